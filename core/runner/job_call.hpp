// The call of a job: its op through the executor client (or, to finish a
// lost call, its executor's resume op), again while the crash policy says
// so. What the call returns, or throws, is the job's outcome.
#pragma once

#include "jobs/model.hpp"
#include "plugins/executor_client.hpp"
#include "runner/crash_policy.hpp"
#include "runner/job_hooks.hpp"

#include <string>

namespace exed::runner {

// Runs `job` by worker `worker` (named in its messages). `resume`: its
// worker was lost mid-run and its executor's resume op finishes that call.
// Never throws: an exception from the call (the client, the hooks, the
// resume document) is a failed result with its reason, ended like any
// other (before, it left the job running for ever).
plugins::OpResult call_job(plugins::ExecutorClient& client, CrashPolicy& policy, const jobs::Job& job,
                           JobHooks& hooks, const std::string& worker, bool resume);

}  // namespace exed::runner
