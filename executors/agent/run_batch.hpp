// One operation's runs on many agents: sends a ping or a signed command to
// each target, then turns what the agents send back (pong, nacked, ack,
// output, end) into per-host events and results as they arrive. A node
// whose connection drops gets heartbeat_timeout to come back (its agent
// buffers the output meanwhile) before it is reported unreachable.
#pragma once

#include "agent_hub.hpp"
#include "command_signer.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace exed::agent_executor {

enum class RunKind { Ping, Facter, Execute, Service };

class RunBatch : public RunListener {
public:
    // `run_ids`: the runs are named <run_ids><node> (stable for a job, so a
    // restarted exed can attach to them); "" names them by random UUIDs.
    // `attach`: this resumes a lost call of this job, some of whose runs
    // may have started: wait for the nodes' agents to come back first. The
    // same signed `start` goes out either way; an agent attaches to a run
    // it has (and sends everything again), starts one it never got.
    RunBatch(AgentHub& hub, const CommandSigner& signer, exed::Call& call, RunKind kind,
             std::string run_ids = "", bool attach = false);
    ~RunBatch() override;

    // `command` and `argv` (JSON array text, may be empty) go into every
    // node's signed fields; ping ignores them. Returns {node: result, ...}.
    std::string run(const std::vector<std::string>& targets, const std::string& command,
                    const std::string& argv_json);

    void on_message(const std::string& node, const Poco::JSON::Object::Ptr& msg) override;
    void on_node_lost(const std::string& node) override;

private:
    struct HostRun {
        std::string node;
        bool done = false;
        bool acked = false;  // a run's output and end count from its ack on
        std::string stdout_text, stderr_text, ack_time;
        // (stream, bytes) per chunk as it came: the result's output_order,
        // so readers slice the output as the live chunks were (Shovey's stream).
        std::vector<std::pair<std::string, size_t>> order;
        std::chrono::steady_clock::time_point lost_since{};
    };
    std::string frame_for(const HostRun& h, const std::string& run_id, const std::string& command,
                          const std::string& argv_json) const;
    void start(HostRun& h, const std::string& frame);
    // `from`: the node of the connection the message came on; a message
    // about another node's run is dropped (and logged), never applied.
    void handle(const std::string& from, const std::string& run_id, const Poco::JSON::Object::Ptr& msg);
    void finish(HostRun& h, const Poco::JSON::Object::Ptr& result);
    void send_cancel();
    void wait_for_agents(std::chrono::seconds at_most);
    Poco::JSON::Object::Ptr end_result(HostRun& h, const Poco::JSON::Object::Ptr& msg) const;

    AgentHub& hub_;
    const CommandSigner& signer_;
    exed::Call& call_;
    RunKind kind_;
    std::string run_ids_;
    bool attach_;
    std::map<std::string, HostRun> runs_;  // run_id -> run
    Poco::JSON::Object results_;
    size_t open_ = 0;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::pair<std::string, Poco::JSON::Object::Ptr>> inbox_;  // (node, msg)
    std::vector<std::string> lost_;
};

}  // namespace exed::agent_executor
