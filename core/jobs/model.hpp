// A job as data: what was asked, on which hosts, and how it went.
//
// Its status is stored once. EXEd's `state` numbers (Done=0 Running=1
// Failure=2) are derived from it (Job::state()): queued and running are
// state 1; done is 0; failed and cancelled are 2 (a cancelled job's error
// is "cancelled").
#pragma once

#include "jobs/status.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace exed::jobs {

struct Job {
    std::string jid;
    std::string status = status::queued;
    std::string error;
    std::string operate;       // API operation: ping facter service execute deploy release
    // The plugin's arguments, "targets" (the expanded hosts) included: one
    // JSON document, made once at submit, signed, handed to the plugin as is.
    std::string operate_args;
    std::vector<std::string> targets;  // expanded host names
    std::string plugin_kind;   // executor | releaser
    std::string plugin_type;   // ansible, salt, common, ...
    std::string plugin_op;     // operation invoked on the plugin (release: release|rollback|revision)
    int64_t created_ms = 0;
    int64_t startat = 0;       // epoch s the run started (0 while queued)
    int64_t finished = 0;      // epoch s it ended
    int run_timeout = 0;       // s
    std::string worker;        // consumer that runs it
    bool cancel_requested = false;
    std::string signature;     // HMAC by the creating API process (jobs/signature.hpp)

    JobState state() const { return state_of(status); }

    // Redis hash fields <-> Job.
    std::map<std::string, std::string> to_fields() const;
    static Job from_fields(const std::map<std::string, std::string>& f);
};

}  // namespace exed::jobs
