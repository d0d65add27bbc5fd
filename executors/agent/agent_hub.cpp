#include "agent_hub.hpp"

#include "listener_socket.hpp"
#include "node_identity.hpp"

#include <Poco/Buffer.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/PollSet.h>
#include <Poco/Net/ServerSocket.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace exed::agent_executor {

namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Dropped nodes remembered for `nodes` (an agent token could invent names:
// the oldest are forgotten past this).
constexpr size_t kMaxGoneNodes = 100000;

// A WebSocket frame header is at most 14 bytes (RFC 6455 5.2).
constexpr size_t kMaxFrameHeader = 14;

}  // namespace

AgentHub::AgentHub(const AgentSettings& settings, const exed::Host& host) : settings_(settings), host_(host) {
    Poco::Net::ServerSocket listener;
    try {
        listener = agent_listen_socket(settings, 1024);  // plain or TLS; no SO_REUSEPORT
    } catch (const Poco::Exception& e) {
        throw Error("[agent] cannot listen on " + settings.listen + ":" + std::to_string(settings.listen_port) +
                    ": " + e.displayText());
    }
    reactor_thread_ = std::thread([this] { reactor(); });
    handshaker_ = std::make_unique<Handshaker>(settings_, host_, listener, [this](Upgraded u) { adopt(std::move(u)); });
    key_watch_thread_ = std::thread([this] { watch_keys(); });
    host_.log(EXED_LOG_INFO, "agent listener on " + settings.listen + ":" + std::to_string(settings.listen_port));
}

AgentHub::~AgentHub() {
    handshaker_.reset();
    stop_ = true;
    if (reactor_thread_.joinable()) reactor_thread_.join();
    if (key_watch_thread_.joinable()) key_watch_thread_.join();
}

void AgentHub::watch_keys() {
    // The registry's version per period (one GET), its whole list (one
    // Redis round trip, every record) only when the version moved: 1,000
    // accepted nodes are ~300 KB to read and parse. On its own thread, so
    // the reactor never waits for either.
    constexpr auto kKeyRecheck = std::chrono::seconds(3);
    auto next = Clock::now();  // the first read at once: known_nodes() needs it
    std::optional<int64_t> listed_version;
    while (!stop_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (Clock::now() < next) continue;
        next = Clock::now() + kKeyRecheck;
        std::map<std::string, std::string> accepted;
        // A node listed after this instant was checked against a newer
        // registry than the list below: it is not judged by it.
        const auto asked_at = Clock::now();
        int64_t version = 0;
        try {
            version = registry_version(host_);
            if (listed_version == version) continue;  // nothing was accepted, rejected or deleted since
            accepted = accepted_keys(host_);
        } catch (const std::exception& e) {
            continue;  // cannot tell: keep the connections (they proved their keys)
        }
        listed_version = version;
        std::vector<std::shared_ptr<Connection>> expel;
        {
            std::lock_guard<std::mutex> lock(table_mutex_);
            std::set<std::string> names;
            for (auto& [name, _] : accepted) names.insert(name);
            // A node accepted and listed while this read was on its way is
            // known even if the read missed it (it may disconnect before the
            // next one).
            for (auto it = vouched_.begin(); it != vouched_.end();) {
                if (it->second >= asked_at) names.insert((it++)->first);
                else it = vouched_.erase(it);
            }
            accepted_ = std::move(names);
            for (auto& [name, c] : by_node_) {
                auto it = accepted.find(name);
                if (c->listed_at < asked_at && (it == accepted.end() || it->second != c->fingerprint))
                    expel.push_back(c);
            }
        }
        for (auto& c : expel) {
            host_.log(EXED_LOG_WARNING, "agent " + c->node + ": its key is no longer accepted; disconnecting it");
            std::lock_guard<std::mutex> lock(c->send_mutex);  // a TLS read holds it too
            try {
                c->ws.shutdown();  // the reactor sees the close and drops it
            } catch (const Poco::Exception&) {
            }
        }
    }
}

std::vector<std::string> AgentHub::nodes() const {
    std::lock_guard<std::mutex> lock(table_mutex_);
    std::vector<std::string> out;
    out.reserve(by_node_.size());
    for (auto& [n, _] : by_node_) out.push_back(n);
    return out;
}

bool AgentHub::connected(const std::string& node) const {
    std::lock_guard<std::mutex> lock(table_mutex_);
    return by_node_.count(node) != 0;
}

bool AgentHub::send(const std::string& node, const std::string& json) {
    std::shared_ptr<Connection> c;
    {
        std::lock_guard<std::mutex> lock(table_mutex_);
        auto it = by_node_.find(node);
        if (it == by_node_.end()) return false;
        c = it->second;
    }
    std::lock_guard<std::mutex> lock(c->send_mutex);
    try {
        c->ws.sendFrame(json.data(), int(json.size()), Poco::Net::WebSocket::FRAME_TEXT);
        return true;
    } catch (const Poco::Exception&) {
        return false;  // the reactor sees the socket fail and drops it
    }
}

std::vector<NodeSeen> AgentHub::seen_nodes() const {
    std::lock_guard<std::mutex> lock(table_mutex_);
    std::vector<NodeSeen> out;
    out.reserve(by_node_.size() + gone_.size());
    auto live = by_node_.begin();
    auto gone = gone_.begin();
    // Both maps are sorted by name and disjoint: merge them.
    while (live != by_node_.end() || gone != gone_.end()) {
        if (gone == gone_.end() || (live != by_node_.end() && live->first < gone->first)) {
            out.push_back({live->first, true, live->second->last_seen_unix.load()});
            ++live;
        } else {
            out.push_back({gone->first, false, gone->second});
            ++gone;
        }
    }
    return out;
}

std::vector<NodeSeen> AgentHub::known_nodes() const {
    std::vector<NodeSeen> seen = seen_nodes();
    std::lock_guard<std::mutex> lock(table_mutex_);
    if (!accepted_) return seen;
    std::vector<NodeSeen> out;
    out.reserve(accepted_->size() + by_node_.size());
    auto a = accepted_->begin();
    auto s = seen.begin();
    // Both sorted by name: a seen node is known while connected or
    // accepted; an accepted one never seen since start is down.
    while (a != accepted_->end() || s != seen.end()) {
        if (s == seen.end() || (a != accepted_->end() && *a < s->name)) {
            out.push_back({*a++, false, 0});
        } else {
            bool accepted = a != accepted_->end() && *a == s->name;
            if (accepted) ++a;
            if (accepted || s->up) out.push_back(*s);
            ++s;
        }
    }
    return out;
}

void AgentHub::subscribe(const std::string& run_id, RunListener* listener) {
    std::lock_guard<std::mutex> lock(listeners_mutex_);
    listeners_[run_id] = listener;
}

void AgentHub::unsubscribe(const std::string& run_id) {
    std::lock_guard<std::mutex> lock(listeners_mutex_);
    listeners_.erase(run_id);
}

void AgentHub::adopt(Upgraded upgraded) {
    auto c = std::make_shared<Connection>(std::move(upgraded));
    c->last_seen = Clock::now();
    c->last_seen_unix = unix_now();
    std::lock_guard<std::mutex> lock(table_mutex_);
    adopted_.push_back(c);
}

void AgentHub::drop(const std::shared_ptr<Connection>& c, const std::string& why) {
    bool listed = false;
    {
        std::lock_guard<std::mutex> lock(table_mutex_);
        auto it = by_node_.find(c->node);
        if (it != by_node_.end() && it->second == c) {
            listed = true;
            by_node_.erase(it);
            if (gone_.size() >= kMaxGoneNodes) {
                auto oldest = std::min_element(gone_.begin(), gone_.end(),
                                               [](auto& a, auto& b) { return a.second < b.second; });
                gone_.erase(oldest);
            }
            gone_[c->node] = c->last_seen_unix.load();
        }
    }
    by_socket_.erase(c->ws.impl());
    try {
        c->ws.close();
    } catch (const Poco::Exception&) {
    }
    host_.log(EXED_LOG_INFO, "agent " + c->node + " disconnected: " + why);
    // A connection that was never the node's (refused, or replaced) loses
    // nothing of the node's runs.
    if (!listed) return;
    std::lock_guard<std::mutex> lock(listeners_mutex_);
    std::set<RunListener*> told;
    for (auto& [_, l] : listeners_)
        if (told.insert(l).second) l->on_node_lost(c->node);
}

// Moves what the agent sent into its gate, then lets Poco parse every
// frame that is whole there: Poco never waits for a byte. A frame still
// partial stays in the gate (its start time is kept: frame_timeout).
void AgentHub::readable(const std::shared_ptr<Connection>& c, bool& closed, std::string& why) {
    const bool tls = !settings_.tls_cert.empty();
    // Room for one whole frame of max_frame bytes, so a full gate always
    // holds one to parse.
    const size_t cap = settings_.max_frame + kMaxFrameHeader + 65536;
    for (int round = 0; round < 4 && !closed; ++round) {
        GatedSocketImpl::Pulled pulled;
        {
            // Over TLS: one OpenSSL connection must not read and write on
            // two threads at once (senders hold send_mutex).
            std::unique_lock<std::mutex> lock(c->send_mutex, std::defer_lock);
            if (tls) lock.lock();
            pulled = c->gate->pull(cap);
        }
        const bool full = c->gate->unread().size() >= cap;
        size_t frames = 0;
        while (!closed) {
            uint64_t payload = 0;
            auto unread = c->gate->unread();
            uint64_t whole = whole_frame_bytes(unread, payload);
            if (whole != 0 && payload > settings_.max_frame) {
                closed = true;
                why = "a frame announced " + std::to_string(payload) + " bytes, more than max_frame (" +
                      std::to_string(settings_.max_frame) + ")";
                return;
            }
            if (whole == 0 || unread.size() < whole) break;
            read_one(c, closed);
            ++frames;
        }
        if (frames > 0 || c->gate->unread().empty()) c->partial = false;
        if (!c->partial && !c->gate->unread().empty()) {
            c->partial = true;
            c->partial_since = Clock::now();
        }
        if (pulled == GatedSocketImpl::Pulled::eof && !closed) {
            closed = true;
            why = "connection closed";
        }
        // Stopped at its cap: OpenSSL (or the kernel) may hold more, and
        // the descriptor may not say so again.
        if (!full) break;
    }
}

void AgentHub::read_one(const std::shared_ptr<Connection>& c, bool& closed) {
    Poco::Buffer<char> frame(0);
    int flags = 0;
    int n = c->ws.receiveFrame(frame, flags);
    int opcode = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
    if ((n == 0 && flags == 0) || opcode == Poco::Net::WebSocket::FRAME_OP_CLOSE) {
        closed = true;
        return;
    }
    if (!c->greeted) return greet(c, std::string(frame.begin(), frame.size()), closed);
    c->last_seen = Clock::now();
    c->last_seen_unix = unix_now();
    if (opcode != Poco::Net::WebSocket::FRAME_OP_TEXT) return;
    Poco::JSON::Object::Ptr msg;
    try {
        msg = Poco::JSON::Parser().parse(std::string(frame.begin(), frame.size())).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
        return;  // an agent speaking garbage is ignored, not trusted
    }
    std::string run_id = msg->optValue<std::string>("run_id", "");
    if (run_id.empty()) return;  // heartbeat: last_seen is all it does
    std::lock_guard<std::mutex> lock(listeners_mutex_);
    if (auto it = listeners_.find(run_id); it != listeners_.end()) it->second->on_message(c->node, msg);
}

void AgentHub::greet(const std::shared_ptr<Connection>& c, const std::string& frame, bool& closed) {
    Poco::JSON::Object::Ptr hello;
    try {
        hello = Poco::JSON::Parser().parse(frame).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
    }
    std::string remote;
    try {
        remote = c->ws.peerAddress().toString();
    } catch (const Poco::Exception&) {
    }
    Greeting g = check_hello(host_, c->node, c->challenge, hello, remote);
    if (g.ok) {
        c->fingerprint = g.fingerprint;
        c->listed_at = Clock::now();
        c->last_seen = Clock::now();
        c->last_seen_unix = unix_now();
        return list(c);
    }
    // Not the node (yet): tell the agent why, then close. Nothing is held
    // for a pending node; its agent dials again with its backoff.
    host_.log(g.state == "pending" ? EXED_LOG_INFO : EXED_LOG_WARNING,
              "refused agent '" + c->node + "' from " + remote + ": " + g.reason);
    Poco::JSON::Object o;
    o.set("type", std::string("refused"));
    o.set("state", g.state);
    o.set("reason", g.reason);
    if (!g.fingerprint.empty()) o.set("fingerprint", g.fingerprint);
    std::ostringstream text;
    o.stringify(text);
    // Unlisted, so no other thread sends on it (and over TLS the reactor
    // already holds its send lock): no lock here.
    try {
        std::string t = text.str();
        c->ws.sendFrame(t.data(), int(t.size()), Poco::Net::WebSocket::FRAME_TEXT);
    } catch (const Poco::Exception&) {
    }
    closed = true;
}

void AgentHub::list(const std::shared_ptr<Connection>& c) {
    c->greeted = true;
    std::shared_ptr<Connection> old;
    {
        std::lock_guard<std::mutex> lock(table_mutex_);
        auto& slot = by_node_[c->node];
        old = slot;
        slot = c;
        gone_.erase(c->node);
        // The registry said accepted just now (greet): known from here on.
        vouched_[c->node] = Clock::now();
        if (accepted_) accepted_->insert(c->node);
    }
    if (!old) return;
    // The same node dialled again: the new socket wins, the old one closes
    // (its read then fails and the reactor forgets it).
    try {
        old->ws.shutdown();
    } catch (const Poco::Exception&) {
    }
}

void AgentHub::reactor() {
    Poco::Net::PollSet polled;
    auto next_sweep = Clock::now();
    while (!stop_) {
        std::vector<std::shared_ptr<Connection>> fresh;
        {
            std::lock_guard<std::mutex> lock(table_mutex_);
            fresh.swap(adopted_);
        }
        auto serve = [&](const std::shared_ptr<Connection>& c) {
            bool closed = false;
            std::string why;
            try {
                readable(c, closed, why);
            } catch (const Poco::Exception& e) {
                closed = true;
                why = "bad frame: " + e.displayText();
            }
            if (closed) {
                polled.remove(c->ws);
                drop(c, why);
            }
        };
        for (auto& c : fresh) {
            polled.add(c->ws, Poco::Net::PollSet::POLL_READ | Poco::Net::PollSet::POLL_ERROR);
            by_socket_[c->ws.impl()] = c;
            // Bytes that came with the upgrade request (or wait inside
            // OpenSSL) would not make the descriptor readable again.
            serve(c);
        }
        auto ready = polled.poll(Poco::Timespan(0, 20000));
        for (auto& [socket, mode] : ready) {
            auto it = by_socket_.find(socket.impl());
            if (it == by_socket_.end()) continue;
            auto c = it->second;
            serve(c);
        }
        if (Clock::now() >= next_sweep) {  // heartbeats missed: the agent is gone
            next_sweep = Clock::now() + std::chrono::milliseconds(250);
            auto limit = std::chrono::duration<double>(settings_.heartbeat_timeout_s);
            auto frame_limit = std::chrono::duration<double>(settings_.frame_timeout_s);
            std::vector<std::pair<std::shared_ptr<Connection>, const char*>> late;
            for (auto& [_, c] : by_socket_) {
                if (c->partial && Clock::now() - c->partial_since > frame_limit)
                    late.emplace_back(c, "a frame stayed incomplete for longer than frame_timeout");
                else if (Clock::now() - c->last_seen > limit)
                    late.emplace_back(c, "no heartbeat");
            }
            for (auto& [c, why] : late) {
                polled.remove(c->ws);
                drop(c, why);
            }
        }
    }
    for (auto& [_, c] : by_socket_) {
        try {
            c->ws.close();
        } catch (const Poco::Exception&) {
        }
    }
}

}  // namespace exed::agent_executor
