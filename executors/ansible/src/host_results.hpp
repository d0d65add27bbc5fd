// Collects the per-host results of one operation: emits one event per host
// the moment ansible reports it, and builds the final {host: {...}} result
// covering every target, also those ansible never reported.
#pragma once

#include "json_util.hpp"
#include "process.hpp"
#include "runner.hpp"

#include <exed/sdk.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace exed {
class Call;
}

namespace exed::ansible {

// Operate states of the EXEd API.
// The SDK's per-host statuses (exed/sdk.h), under this plugin's names.
enum Status {
    kOk = EXED_HOST_OK,
    kSkipped = EXED_HOST_SKIPPED,
    kFailed = EXED_HOST_FAILED,
    kUnreachable = EXED_HOST_UNREACHABLE,
    kChanged = EXED_HOST_CHANGED
};

// The message of a failed or unreachable result ("msg", else stderr).
std::string result_message(const Object::Ptr& result);
// An unreachable host's body: {<key>: 3, "error": msg, "stderr": ssh's words}.
Object::Ptr unreachable_body(const std::string& key, const Object::Ptr& result);

class HostResults {
public:
    // `key` is the status field: "status" for most ops, "state" for facter.
    HostResults(const exed::Call& call, std::vector<std::string> targets, std::string key)
        : call_(call), targets_(std::move(targets)), key_(std::move(key)) {}

    // Records the final body of a host and emits it as an event at once.
    void finish(const std::string& host, const Object::Ptr& body);
    bool finished(const std::string& host) const { return bodies_.count(host) != 0; }
    bool is_target(const std::string& host) const;

    // After the run: hosts without a result get a failure naming ansible's
    // error (or "skipped" when ansible succeeded: no task applied to them);
    // when no host at all got one and ansible failed, throws its error.
    std::string result_json(const ProcessResult& run);

private:
    const exed::Call& call_;
    std::vector<std::string> targets_;
    std::string key_;
    std::map<std::string, Object::Ptr> bodies_;
};

}  // namespace exed::ansible
