// exed_call, the opaque per-invocation object of the ABI, as the host sees it.
#pragma once

#include "plugins/plugin.hpp"

#include <mutex>
#include <string>

struct exed_call {
    exed::plugins::CallHooks* hooks = nullptr;  // NULL for init and check
    const std::string* config = nullptr;        // the plugin's config JSON
    std::string plugin_type;                    // for log lines
    std::mutex mutex;                           // result/error may come from any thread
    std::string result;
    std::string error;
    std::string job_id;  // hooks->job_id(), read once (host_api job_id)
    bool job_id_set = false;
};

namespace exed::plugins {
// The one host API table handed to every plugin.
const exed_host_api* host_api();
}  // namespace exed::plugins
