// The agent listener's handshakes: ONE thread accepts, completes TLS
// (when tls_cert is set) and reads the upgrade request without waiting on
// any client; Poco parses and answers it (HTTPServerSession,
// HTTPServerRequestImpl, WebSocket) only once the whole request is here,
// so nothing Poco does there can block. Every handshake has a deadline
// ([agent] handshake_timeout) and at most kMaxPending wait at once (past
// that the oldest is closed): idle connections cannot lock agents out
// (issue 24, item 5). Then the upgraded socket goes to the hub's reactor.
#pragma once

#include "agent_settings.hpp"
#include "gated_socket.hpp"

#include <exed/sdk.hpp>

#include <Poco/Net/PollSet.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/WebSocket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

namespace exed::agent_executor {

using agent_wire::GatedSocketImpl;
using agent_wire::whole_frame_bytes;

// An agent whose upgrade succeeded (token and node name checked).
struct Upgraded {
    std::string node;
    Poco::Net::WebSocket ws;          // reads come from `gate`'s buffer only
    Poco::Net::StreamSocket gated;    // holds `gate`
    GatedSocketImpl* gate = nullptr;  // the reactor pulls bytes into it
    std::string challenge;            // sent in the 101 as X-Exed-Challenge
};

class Handshaker {
public:
    static constexpr size_t kMaxPending = 4096;
    static constexpr size_t kMaxRequest = 8192;  // an upgrade request is a few hundred bytes

    Handshaker(const AgentSettings& settings, const exed::Host& host, Poco::Net::ServerSocket listener,
               std::function<void(Upgraded)> adopt);
    ~Handshaker();

private:
    struct Pending {
        Poco::Net::StreamSocket real;
        std::string peer;  // address, for the log
        bool tls_done = false;
        std::chrono::steady_clock::time_point deadline;
        Poco::Net::StreamSocket gated;
        GatedSocketImpl* gate = nullptr;
    };
    void loop();
    void accept_some();
    void pause_accepting();
    void advance(int fd);
    bool upgrade(Pending& p);  // true: upgraded and adopted
    void forget(int fd, bool close = true);
    void expire();

    const AgentSettings& settings_;
    exed::Host host_;
    Poco::Net::ServerSocket listener_;
    std::function<void(Upgraded)> adopt_;
    std::map<int, Pending> pending_;  // by descriptor; handshake thread only
    std::atomic<bool> stop_{false};
    std::thread thread_;
    Poco::Net::PollSet polled_;       // handshake thread only
};

}  // namespace exed::agent_executor
