// The agent's one event loop: dials every node's link (reconnecting with
// jittered backoff), polls all links in one PollSet, answers pings from
// the connection, heartbeats, and hands verified commands to run threads.
#pragma once

#include "agent/agent_config.hpp"
#include "agent/command_verifier.hpp"
#include "agent/node_link.hpp"

#include <Poco/JSON/Object.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace exed::agent {

class AgentLoop {
public:
    explicit AgentLoop(const AgentConfig& config);
    // Runs until `stop` is set; then cancels running commands and waits for them.
    void run(const std::atomic<bool>& stop);

private:
    struct Run {
        std::atomic<bool> cancel{false};
    };
    void handle(NodeLink& link, const std::string& text);
    void handle_command(NodeLink& link, const Poco::JSON::Object::Ptr& msg);
    void start_run(NodeLink& link, const Verdict& v);
    size_t running() const;

    const AgentConfig& config_;
    CommandVerifier verifier_;
    std::vector<std::unique_ptr<NodeLink>> links_;
    mutable std::mutex runs_mutex_;
    std::map<std::string, std::shared_ptr<Run>> runs_;  // node/run_id -> run
};

}  // namespace exed::agent
