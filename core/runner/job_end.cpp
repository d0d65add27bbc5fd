#include "runner/job_end.hpp"

#include "runner/host_results.hpp"

namespace exed::runner {

jobs::Ending ending(const std::string& status, std::string error, std::map<std::string, std::string> returns,
                    std::vector<std::string> events) {
    jobs::Ending e;
    e.state = jobs::state_of(status);
    e.status = status;
    e.error = std::move(error);
    e.returns = std::move(returns);
    e.events = std::move(events);
    return e;
}

jobs::Ending judge(const plugins::OpResult& r, JobHooks& hooks) {
    auto deferred = hooks.take_deferred();
    // Parsed once: what is stored and what decides the job's status.
    auto results = results_of(r.result);
    if (results.json.empty()) results = results_from_events(hooks.host_events());
    std::string status = jobs::status::done, error;
    if (hooks.stopping() && !r.ok()) {
        // A cancel stops the job with the reason "cancelled" (the watchdog).
        error = hooks.stop_reason();
        status = error == jobs::status::cancelled ? jobs::status::cancelled : jobs::status::failed;
    } else if (!r.ok()) {
        status = jobs::status::failed;
        error = r.error;
    } else if (const auto& failed = results.failed; !failed.empty()) {
        status = jobs::status::failed;
        error = "failed on " + std::to_string(failed.size()) + " host(s): ";
        for (size_t i = 0; i < failed.size(); ++i) error += (i ? ", " : "") + failed[i];
    }
    return ending(status, error, std::move(results.json), std::move(deferred));
}

}  // namespace exed::runner
