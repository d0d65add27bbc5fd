// Runs one argv without a shell in its own process group, hands its
// stdout/stderr to a callback as they are produced, and kills the whole
// group (TERM, then KILL after a grace) on cancel or timeout.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace exed::agent {

struct ChildOutcome {
    int exit_code = -1;      // exit status, or 128+signal
    std::string end_reason;  // "" | "cancelled" | "timeout" | "spawn failed: ..."
};

using ChunkSink = std::function<void(const std::string& stream, const std::string& data)>;

// Blocks until the child ended. `cancel` may be set from another thread.
ChildOutcome run_child(const std::vector<std::string>& argv, int timeout_s, double kill_grace_s,
                       const std::atomic<bool>& cancel, const ChunkSink& sink);

}  // namespace exed::agent
