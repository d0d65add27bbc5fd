// Per-host results of a job, read once on the worker: from the plugin's
// result, or (when it failed before giving one) from its host events.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace exed::runner {

struct HostResults {
    std::map<std::string, std::string> json;  // host -> its result, as stored
    std::vector<std::string> failed;          // hosts whose status is Failed or Unreachable
};

// The plugin's result {host: {...}}; text that is not an object keyed by
// host is kept whole under "_result".
HostResults results_of(const std::string& result_json);

// The last result per host in the events {host: {...}}; a body with a task
// "name" (EXED_KEY_TASK) is a task event, not a result.
HostResults results_from_events(const std::vector<std::string>& events);

}  // namespace exed::runner
