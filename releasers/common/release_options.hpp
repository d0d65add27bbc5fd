// The arguments of a common release, validated before a job exists.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <vector>

namespace exed::common {

struct Defaults {
    std::string root = "/srv/apps";
    int keep = 5;
};

struct ReleaseRequest {
    std::vector<std::string> targets;
    std::string appname;
    std::string revision;   // "" for "the previous release" (rollback)
    std::string giturl;     // release only
    std::string root;
    int keep = 5;
    int concurrency = 0;    // hosts per batch; 0 = all at once
    bool graceful_reload = false;
    std::string reload_cmd; // run after the switch when graceful_reload
    std::string service;    // or reload this service (service op, graceful)
};

// Reads and checks `args` for operation `op` (release | rollback |
// revision). Throws exed::BadInput naming the problem.
ReleaseRequest parse_request(const std::string& op, const Poco::JSON::Object::Ptr& args,
                             const Defaults& defaults);

}  // namespace exed::common
