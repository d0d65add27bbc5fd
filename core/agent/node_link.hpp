// One emulated or real node's long-lived WebSocket to exed. Run messages
// (ack, output, end, nacked) are buffered while it is down — bounded, the
// oldest output dropped first with a marker — and delivered on reconnect;
// connection messages (heartbeat, pong) are not.
#pragma once

#include "agent/agent_config.hpp"
#include "agent/node_key.hpp"

#include <Poco/Buffer.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/WebSocket.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace exed::agent {

class NodeLink {
public:
    using Clock = std::chrono::steady_clock;

    // `tls`: the process's client context for https:// (nullptr: plain http://).
    // Loads (or makes, on first start) the node's key pair in state_dir.
    NodeLink(const AgentConfig& config, std::string node, Poco::Net::Context::Ptr tls = nullptr)
        : config_(config), node_(std::move(node)), tls_(std::move(tls)), key_(config.state_dir, node_) {}

    const std::string& node() const { return node_; }
    bool key_created() const { return key_.created(); }
    // Loop thread only: dial, upgrade, flush the buffer. False (and why) on failure.
    bool connect(std::string& why);
    void disconnect();
    bool connected() const;
    bool broken() const;  // a send failed: the loop thread should disconnect
    Poco::Net::WebSocket* socket() { return ws_.get(); }
    // Loop thread only. Over TLS the read holds the send lock: one OpenSSL
    // connection must not read and write on two threads at once.
    int receive_frame(Poco::Buffer<char>& frame, int& flags);
    bool more_buffered() const;  // TLS: frames already decrypted, the fd will not say so

    void send_run_message(const std::string& run_id, const std::string& json, bool droppable);
    void send_now(const std::string& json);

    // Reconnect schedule (loop thread only): jittered exponential backoff.
    Clock::time_point next_attempt{};
    double backoff_s = 0;
    // exed refused this connection (pending, rejected, another key...):
    // the loop waits with a growing backoff before dialling again.
    bool refused = false;
    double refused_backoff_s = 0;  // kept across refused connections
    std::string last_refusal;  // logged once per change

private:
    struct Pending {
        std::string run_id;
        std::string json;
        bool droppable;
    };
    bool send_locked(const std::string& json);
    void buffer_locked(Pending p);
    bool flush_locked();

    const AgentConfig& config_;
    std::string node_;
    Poco::Net::Context::Ptr tls_;
    NodeKey key_;
    mutable std::mutex mutex_;
    std::unique_ptr<Poco::Net::WebSocket> ws_;
    bool broken_ = false;
    std::deque<Pending> buffer_;
    size_t buffered_bytes_ = 0;
    std::map<std::string, size_t> dropped_;  // run_id -> bytes of output dropped
};

}  // namespace exed::agent
