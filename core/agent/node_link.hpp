// One emulated or real node's long-lived WebSocket to exed. Run messages
// (ack, output, end, nacked) are buffered while it is down — bounded, the
// oldest output dropped first with a marker — and delivered on reconnect;
// connection messages (heartbeat, pong) are not.
#pragma once

#include "agent/agent_config.hpp"
#include "gated_socket.hpp"  // executors/agent: exed_agent_wire
#include "agent/node_key.hpp"

#include <Poco/Buffer.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/WebSocket.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace exed::agent {

using agent_wire::GatedSocketImpl;
using agent_wire::whole_frame_bytes;

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
    // Loop thread only, when the socket is readable: takes what exed sent
    // without waiting and hands every whole text frame to `on_text`. False
    // (and why) when the connection must go: closed, a frame over
    // max_frame, a bad frame.
    bool receive(const std::function<void(const std::string&)>& on_text, std::string& why);
    // Loop thread only: a frame begun more than frame_timeout ago is still
    // not whole (exed, or something on the way, sends by halves).
    bool stalled() const;

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
    Poco::Net::StreamSocket gated_;    // holds gate_, under ws_
    GatedSocketImpl* gate_ = nullptr;  // received, not yet parsed (loop thread only)
    bool partial_ = false;             // gate_ holds part of a frame since partial_since_
    Clock::time_point partial_since_;
    bool broken_ = false;
    std::deque<Pending> buffer_;
    size_t buffered_bytes_ = 0;
    std::map<std::string, size_t> dropped_;  // run_id -> bytes of output dropped
};

}  // namespace exed::agent
