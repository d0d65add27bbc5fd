// The optional executor op "nodes" (sdk.h since 1.2) as the core reads it:
// the nodes an executor tracks itself (the agent executor: its connected
// agents), up or down, with when each was last heard from. One call through
// the ExecutorClient seam, JSON in and out, so it works the same whether
// the plugin runs in this process or in a plugin host.
#pragma once

#include "plugins/executor_client.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace exed::plugins {

struct NodeState {
    std::string name;
    bool up = false;
    int64_t last_seen = 0;  // unix seconds (0: unknown)
};

// nullopt when the configured executor is not loaded or does not implement
// "nodes" (then callers fall back to pinging). Throws std::runtime_error
// when the op fails or answers something that is not its documented shape.
std::optional<std::vector<NodeState>> executor_nodes(ExecutorClient& client);

}  // namespace exed::plugins
