// How a job that ran ended: its status, error and per-host results, judged
// once from what its call returned, as the store records it.
#pragma once

#include "jobs/store.hpp"
#include "plugins/plugin.hpp"
#include "runner/job_hooks.hpp"

#include <map>
#include <string>
#include <vector>

namespace exed::runner {

// A job's end with `status`; EXEd's state number follows from the status.
jobs::Ending ending(const std::string& status, std::string error,
                    std::map<std::string, std::string> returns = {}, std::vector<std::string> events = {});

// The end of a call that returned `r`: stopped (cancelled or timed out),
// failed, failed on some hosts, or done. Takes the hooks' deferred events
// (written with the end) and, when the plugin gave no per-host result,
// reads the results from its host events.
jobs::Ending judge(const plugins::OpResult& r, JobHooks& hooks);

}  // namespace exed::runner
