// A releaser's run_executor request ({"op", "args"}), served by the
// configured executor of a client within the same call's hooks (same
// events, cancel and processes). Shared by the runner's JobHooks and the
// plugin host, which serves it next to both plugins.
#pragma once

#include "plugins/executor_client.hpp"

#include <string>

namespace exed::plugins {

// Fills `out` with the executor's result, or {"message"}; returns an
// exed_status (or a kStatus* of the seam).
int run_executor_request(ExecutorClient& client, const std::string& request_json,
                         std::string& out, CallHooks& hooks);

}  // namespace exed::plugins
