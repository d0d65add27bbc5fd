// The agent's one event loop: dials every node's link (reconnecting with
// jittered backoff), polls all links in one PollSet, answers pings from
// the connection, heartbeats, and hands verified commands to run threads.
#pragma once

#include "agent/agent_config.hpp"
#include "agent/command_verifier.hpp"
#include "agent/node_link.hpp"
#include "agent/replay_guard.hpp"

#include <Poco/JSON/Object.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace exed::agent {

class AgentLoop {
public:
    explicit AgentLoop(const AgentConfig& config);
    // Runs until `stop` is set; then cancels running commands and waits for them.
    void run(const std::atomic<bool>& stop);

private:
    // A run, kept after its end for kRetainSeconds: everything it sent
    // (ack, output, end) is retained, bounded, so that an exed that lost
    // the run (it was restarted) can attach and get all of it again.
    struct Run {
        std::atomic<bool> cancel{false};
        std::mutex mutex;  // log order = send order
        std::vector<std::pair<std::string, bool>> log;  // (message, droppable)
        size_t log_bytes = 0;
        size_t not_kept = 0;  // output bytes sent but past a retention bound
        std::atomic<bool> ended{false};
        std::chrono::steady_clock::time_point ended_at{};
    };
    // The loop thread's view of the links: what it polls, which link a
    // socket is, its backoff jitter (agent_loop.cpp).
    struct Polling;
    // Drops broken or stalled links and dials the ones whose backoff ended.
    void keep_links_up(Polling& p);
    // Reads whole frames from the links poll found ready; a closed one is
    // redialled after its backoff (longer while exed refuses it as pending).
    void read_ready(Polling& p);
    // After the stop: cancels the runs and waits (kill_grace + 3 s at most).
    void wind_down();
    void handle(NodeLink& link, const std::string& text);
    void handle_command(NodeLink& link, const Poco::JSON::Object::Ptr& msg);
    // The commands accepted during one loop pass run only once the replay
    // guard has made their nonces and run ids durable: one commit per pass.
    struct Accepted {
        NodeLink* link;
        Verdict verdict;
        bool new_run;  // a start whose run id this node never started
    };
    void run_accepted();
    void dispatch(NodeLink& link, const Verdict& v, bool new_run);
    void start_run(NodeLink& link, const Verdict& v);
    // Sends everything the run sent so far again, then its later messages
    // follow as they come; nacked when the run is unknown here.
    void attach_run(NodeLink& link, const Verdict& v);
    // Sends a run message and retains it.
    void send_and_keep(NodeLink& link, Run& run, const std::string& run_id, const std::string& json,
                       bool droppable);
    void forget_old_runs();  // runs_mutex_ held

    size_t running() const;  // runs not yet ended

    const AgentConfig& config_;
    ReplayGuard guard_;  // before verifier_, which uses it
    CommandVerifier verifier_;
    std::vector<Accepted> accepted_;  // loop thread only
    std::vector<std::unique_ptr<NodeLink>> links_;
    mutable std::mutex runs_mutex_;
    std::map<std::string, std::shared_ptr<Run>> runs_;  // node/run_id -> run
    std::chrono::steady_clock::time_point last_forget_{};  // runs_mutex_
    std::atomic<size_t> retained_bytes_{0};  // over all runs' logs
    // Erases a run and its retained log (runs_mutex_ held).
    std::map<std::string, std::shared_ptr<Run>>::iterator erase_run(std::map<std::string, std::shared_ptr<Run>>::iterator it);
};

}  // namespace exed::agent
