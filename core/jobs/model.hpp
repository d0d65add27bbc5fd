// A job as data: what was asked, on which hosts, and how it went.
//
// `state` keeps EXEd's numbers (Done=0 Running=1 Failure=2). `status` says
// more without changing them: queued and running are state 1; done is 0;
// failed and cancelled are 2 (a cancelled job's error is "cancelled").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace exed::jobs {

enum JobState { Done = 0, Running = 1, Failure = 2 };

namespace status {
inline const std::string queued = "queued", running = "running", done = "done",
                         failed = "failed", cancelled = "cancelled";
inline const std::vector<std::string> final_list = {done, failed, cancelled};
bool terminal(const std::string& s);
}  // namespace status

struct Job {
    std::string jid;
    int state = Running;
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

    // Redis hash fields <-> Job.
    std::map<std::string, std::string> to_fields() const;
    static Job from_fields(const std::map<std::string, std::string>& f);
};

}  // namespace exed::jobs
