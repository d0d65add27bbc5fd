// Recording a job's end against a Redis that may be away or refuse: the
// end of a job must never be lost, nor leave the job running for ever.
#pragma once

#include "jobs/store.hpp"

#include <atomic>
#include <functional>
#include <string>

namespace exed::runner {

// Runs attempt(end, first) (one settle of the job `jid`) until it returns.
// An outage (redis::Unavailable) is waited out however long it lasts, while
// `running`: giving up let the lease run out and the job be failed as
// "worker lost" while it had succeeded (issue 14). Any other error is
// retried, then the end is recorded without the plugin's results and events
// (`end` says what was recorded), then left to the lease. Returns whether
// an attempt returned (false: stopped, or left to the lease; the entry's
// lease expires and a worker reclaims and ends the job).
bool settle_with_retries(const std::string& jid, jobs::Ending& end, const std::atomic<bool>& running,
                         const std::function<void(const jobs::Ending& end, bool first)>& attempt);

}  // namespace exed::runner
