// The agent listener and connection table. Agents dial in with an HTTP
// upgrade to a WebSocket (GET /agent/connect?node=NAME, Authorization:
// Bearer <token>); one handshake thread (handshake.hpp) does only the
// handshakes, without waiting on any client, then hands the socket to ONE
// reactor thread that polls every agent socket in a PollSet (epoll):
// thousands of agents hold no thread each. The reactor reads a frame only
// once all its bytes are here (gated_socket.hpp), so no connection can
// hold it.
#pragma once

#include "agent_settings.hpp"
#include "handshake.hpp"

#include <exed/sdk.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/Net/WebSocket.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace exed::agent_executor {

// Receives what agents send about one run (keyed by run_id).
class RunListener {
public:
    virtual ~RunListener() = default;
    virtual void on_message(const std::string& node, const Poco::JSON::Object::Ptr& msg) = 0;
    virtual void on_node_lost(const std::string& node) = 0;
};

// A node as the connection table knows it, for the executor's `nodes` op.
struct NodeSeen {
    std::string name;
    bool up = false;        // connected, said hello, and heard from within heartbeat_timeout
    int64_t last_seen = 0;  // unix seconds of its last frame
};

class AgentHub {
public:
    AgentHub(const AgentSettings& settings, const exed::Host& host);
    ~AgentHub();

    std::vector<std::string> nodes() const;  // connected, sorted
    bool connected(const std::string& node) const;
    // Every node that said hello since the listener started: up while its
    // connection is in the table, down once it was dropped (closed, or no
    // frame for heartbeat_timeout) and did not come back. Sorted by name.
    std::vector<NodeSeen> seen_nodes() const;
    // The known nodes (issue 24, item 8): every node the registry accepted,
    // connected or not, plus any connected one; up while connected. The
    // accepted list is the key watcher's (re-read every 3 s); until it first
    // answered, the nodes seen since start (seen_nodes). Sorted by name.
    std::vector<NodeSeen> known_nodes() const;
    // Sends one text frame to a node's agent; false when it is not connected.
    bool send(const std::string& node, const std::string& json);

    void subscribe(const std::string& run_id, RunListener* listener);
    void unsubscribe(const std::string& run_id);

    // From the handshake thread: an agent with the right token joins the
    // table; it is listed once its hello proved its key (node_identity.hpp)
    // against the challenge sent in the 101 answer (Upgraded::challenge).
    void adopt(Upgraded upgraded);
    const AgentSettings& settings() const { return settings_; }
    const exed::Host& host() const { return host_; }

private:
    struct Connection {
        std::string node;
        Poco::Net::WebSocket ws;
        std::mutex send_mutex;
        std::chrono::steady_clock::time_point last_seen;
        std::atomic<int64_t> last_seen_unix{0};  // the same, for other threads (seen_nodes)
        bool greeted = false;  // listed only once its hello arrived (reactor thread only)
        Poco::Net::StreamSocket gated;    // holds gate, under ws
        GatedSocketImpl* gate = nullptr;  // bytes received, not yet parsed (reactor thread only)
        std::string challenge;            // sent in the 101 (X-Exed-Challenge): the hello must sign it
        std::string fingerprint;          // of the key its hello proved (set before it is listed)
        std::chrono::steady_clock::time_point listed_at{};  // when its key was last checked (before listing)
        bool partial = false;             // gate holds part of a frame since partial_since
        std::chrono::steady_clock::time_point partial_since;
        explicit Connection(Upgraded u)
            : node(std::move(u.node)), ws(u.ws), gated(u.gated), gate(u.gate), challenge(std::move(u.challenge)) {}
    };
    void reactor();
    void readable(const std::shared_ptr<Connection>& c, bool& closed, std::string& why);
    void read_one(const std::shared_ptr<Connection>& c, bool& closed);
    void drop(const std::shared_ptr<Connection>& c, const std::string& why);
    void list(const std::shared_ptr<Connection>& c);
    // The first frame: listed when it proves an accepted key for the name,
    // else told why (a "refused" frame) and closed (closed = true).
    void greet(const std::shared_ptr<Connection>& c, const std::string& frame, bool& closed);
    // Every kKeyRecheck: a listed node whose key is no longer accepted
    // (rejected or deleted by an operator) is disconnected.
    void watch_keys();

    AgentSettings settings_;
    exed::Host host_;
    std::unique_ptr<Handshaker> handshaker_;
    std::atomic<bool> stop_{false};
    std::thread reactor_thread_;
    std::thread key_watch_thread_;

    mutable std::mutex table_mutex_;
    std::map<std::string, std::shared_ptr<Connection>> by_node_;
    std::map<std::string, int64_t> gone_;  // dropped nodes -> last frame (unix s); bounded
    std::optional<std::set<std::string>> accepted_;  // the registry's accepted names, once read
    // Nodes listed (their key accepted) since a registry read began: kept
    // known until a read that began after them includes or drops them.
    std::map<std::string, std::chrono::steady_clock::time_point> vouched_;
    std::vector<std::shared_ptr<Connection>> adopted_;  // waiting for the reactor to poll them
    std::map<Poco::Net::SocketImpl*, std::shared_ptr<Connection>> by_socket_;  // reactor's own

    std::mutex listeners_mutex_;
    std::map<std::string, RunListener*> listeners_;
};

}  // namespace exed::agent_executor
