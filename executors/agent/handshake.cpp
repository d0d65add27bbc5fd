#include "handshake.hpp"

#include "node_identity.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureStreamSocketImpl.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/RegularExpression.h>
#include <Poco/URI.h>

#include <cerrno>
#include <sstream>

#include <fcntl.h>
#include <sys/socket.h>

namespace exed::agent_executor {

namespace {

using Clock = std::chrono::steady_clock;

bool same_token(const std::string& a, const std::string& b) {
    // Length-independent compare time for equal lengths: no early exit.
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

// The whole answer fits a fresh connection's send buffer; the real
// socket's send timeout bounds it anyway.
constexpr int kSendTimeoutS = 5;

}  // namespace

Handshaker::Handshaker(const AgentSettings& settings, const exed::Host& host, Poco::Net::ServerSocket listener,
                       std::function<void(Upgraded)> adopt)
    : settings_(settings), host_(host), listener_(std::move(listener)), adopt_(std::move(adopt)) {
    listener_.setBlocking(false);
    ::fcntl(listener_.impl()->sockfd(), F_SETFD, FD_CLOEXEC);
    polled_.add(listener_, Poco::Net::PollSet::POLL_READ);
    thread_ = std::thread([this] { loop(); });
}

Handshaker::~Handshaker() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& [fd, p] : pending_) {
        try {
            p.real.close();
        } catch (const Poco::Exception&) {
        }
    }
    listener_.close();
}

void Handshaker::loop() {
    auto next_expiry = Clock::now();
    while (!stop_) {
        Poco::Net::PollSet::SocketModeMap ready;
        try {
            ready = polled_.poll(Poco::Timespan(0, 50000));
        } catch (const Poco::Exception& e) {
            host_.log(EXED_LOG_WARNING, "agent listener: poll failed: " + e.displayText());
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        for (auto& [socket, mode] : ready) {
            if (stop_) break;
            if (socket == listener_) accept_some();
            else advance(socket.impl()->sockfd());
        }
        if (Clock::now() >= next_expiry) {
            next_expiry = Clock::now() + std::chrono::milliseconds(100);
            expire();
        }
    }
}

// Out of descriptors (EMFILE) or another accept failure: the listener
// stays readable, so the loop would spin. The handshakes under way go on.
void Handshaker::pause_accepting() { std::this_thread::sleep_for(std::chrono::milliseconds(5)); }

void Handshaker::accept_some() {
    // A bounded batch per wake-up: a flood of connects cannot starve the
    // handshakes already under way.
    for (int i = 0; i < 64; ++i) {
        Poco::Net::StreamSocket client;
        if (listener_.secure()) {
            // Poco wraps the socket in its TLS layer; the TLS handshake
            // itself is left for advance() (Poco defers it to the first
            // completeHandshake/read).
            try {
                client = listener_.acceptConnection();
            } catch (const Poco::Exception& e) {
                // Nothing (more) to accept, or the client left; out of
                // descriptors the listener stays readable: pause, not spin.
                if (e.code() != EAGAIN && e.code() != EWOULDBLOCK) pause_accepting();
                return;
            }
            ::fcntl(client.impl()->sockfd(), F_SETFD, FD_CLOEXEC);
            // Non-blocking, timeouts 0: Poco's TLS layer then reports "would
            // block" (TimeoutException) at once instead of polling.
            client.setBlocking(false);
            client.setReceiveTimeout(Poco::Timespan(0));
            client.setSendTimeout(Poco::Timespan(0));
        } else {
            int fd = ::accept4(listener_.impl()->sockfd(), nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK) pause_accepting();
                return;
            }
            client = Poco::Net::StreamSocket(new Poco::Net::StreamSocketImpl(fd));
            // Blocking for writes (bounded by the send timeout); reads are
            // MSG_DONTWAIT (GatedSocketImpl::pull).
            client.setSendTimeout(Poco::Timespan(kSendTimeoutS, 0));
        }
        client.setNoDelay(true);
        if (pending_.size() >= kMaxPending) {
            // Full: the oldest pending handshake goes (a flood of idle
            // connections then only ever holds the newest kMaxPending, and
            // an agent's handshake takes milliseconds).
            auto oldest = pending_.begin();
            for (auto it = pending_.begin(); it != pending_.end(); ++it)
                if (it->second.deadline < oldest->second.deadline) oldest = it;
            forget(oldest->first);
        }
        int fd = client.impl()->sockfd();
        Pending p;
        p.real = client;
        try {
            p.peer = client.peerAddress().toString();
        } catch (const Poco::Exception&) {
            p.peer = "?";  // it left already; the first read says so
        }
        p.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(settings_.handshake_timeout_s));
        auto* gate = new GatedSocketImpl(client);
        p.gated = Poco::Net::StreamSocket(gate);
        p.gate = gate;
        polled_.add(client, Poco::Net::PollSet::POLL_READ);
        pending_[fd] = std::move(p);
    }
}

void Handshaker::advance(int fd) {
    auto it = pending_.find(fd);
    if (it == pending_.end()) return;
    Pending& p = it->second;
    if (p.real.secure() && !p.tls_done) {
        int rc = 0;
        try {
            rc = static_cast<Poco::Net::SecureStreamSocketImpl*>(p.real.impl())->completeHandshake();
        } catch (const Poco::TimeoutException&) {
            return;  // would block: more of the client's handshake is to come
        } catch (const Poco::Exception& e) {
            // A plain-ws agent on the TLS port, a client without the
            // certificate tls_ca asks for, another CA...
            // Debug only: a stranger must not be able to fill the log.
            host_.log(EXED_LOG_DEBUG, "agent connection from " + p.peer + ": TLS handshake failed: " +
                                          e.displayText());
            return forget(fd);
        }
        if (rc != 1) return;
        p.tls_done = true;
        // The request may have come with the handshake's last flight and
        // now waits inside OpenSSL, the socket quiet: read on at once.
    }
    auto pulled = p.gate->pull(kMaxRequest + 1);
    auto text = p.gate->unread();
    if (text.find("\r\n\r\n") == std::string_view::npos) {
        // Too long for an upgrade request, or the client left before its
        // request was whole: closed without an answer.
        if (text.size() > kMaxRequest || pulled == GatedSocketImpl::Pulled::eof) forget(fd);
        return;
    }
    forget(fd, !upgrade(p));
}

// The whole request is in the gate: Poco parses it and answers (101, or a
// refusal), reading nothing from the network; nothing here can wait on
// the client.
bool Handshaker::upgrade(Pending& p) {
    polled_.remove(p.real);
    p.gate->serve_at_most(p.gate->unread().find("\r\n\r\n") + 4);
    if (p.real.secure()) p.real.setSendTimeout(Poco::Timespan(kSendTimeoutS, 0));  // TLS writes may now wait
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setKeepAlive(false);
    Poco::Net::HTTPServerSession session(p.gated, params);
    std::string node;
    try {
        Poco::Net::HTTPServerResponseImpl resp(session);
        Poco::Net::HTTPServerRequestImpl req(resp, session, params);
        resp.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
        resp.setKeepAlive(false);
        Poco::URI uri(req.getURI());
        for (auto& [k, v] : uri.getQueryParameters())
            if (k == "node") node = v;
        static const Poco::RegularExpression node_name(R"(^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$)");
        auto refuse = [&](Poco::Net::HTTPResponse::HTTPStatus status, const std::string& why) {
            host_.log(EXED_LOG_WARNING,
                      "refused agent '" + node + "' from " + p.peer + ": " + why);
            Poco::JSON::Object body;
            body.set("message", why);
            std::ostringstream text;
            body.stringify(text);
            resp.setStatusAndReason(status);
            resp.setContentType("application/json");
            resp.setContentLength(std::streamsize(text.str().size()));
            resp.send() << text.str() << std::flush;
            return false;  // not upgraded
        };
        if (uri.getPath() != "/agent/connect")
            return refuse(Poco::Net::HTTPResponse::HTTP_NOT_FOUND, "no such path");
        std::string auth = req.get("Authorization", "");
        const std::string bearer = "Bearer ";
        if (auth.rfind(bearer, 0) != 0 || !same_token(auth.substr(bearer.size()), settings_.token))
            return refuse(Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED, "bad or missing agent token");
        if (!node_name.match(node))
            return refuse(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "bad node name");
        std::string challenge = new_challenge();
        resp.set(kChallengeHeader, challenge);  // the agent's hello signs it (node_identity.hpp)
        try {
            Poco::Net::WebSocket ws(req, resp);  // answers 101; the socket leaves the session
            p.gate->serve_all();
            ws.setMaxPayloadSize(int(settings_.max_frame));
            adopt_(Upgraded{node, ws, p.gated, p.gate, challenge});
            return true;
        } catch (const Poco::Net::WebSocketException&) {
            resp.erase(kChallengeHeader);
            refuse(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "not a WebSocket upgrade");
        }
    } catch (const Poco::Exception& e) {
        // A malformed request (Poco's parser refused it), or the client
        // went away under the answer: closed.
        host_.log(EXED_LOG_DEBUG, "agent handshake from " + p.peer + " failed: " + e.displayText());
    }
    return false;
}

void Handshaker::forget(int fd, bool close) {
    auto it = pending_.find(fd);
    if (it == pending_.end()) return;
    try {
        if (polled_.has(it->second.real)) polled_.remove(it->second.real);
        if (close) it->second.real.close();  // upgraded: the WebSocket holds it on
    } catch (const Poco::Exception&) {
    }
    pending_.erase(it);
}

void Handshaker::expire() {
    auto now = Clock::now();
    std::vector<int> late;
    for (auto& [fd, p] : pending_)
        if (p.deadline < now) late.push_back(fd);
    for (int fd : late) forget(fd);
    if (!late.empty())
        host_.log(EXED_LOG_DEBUG, "agent listener: closed " + std::to_string(late.size()) +
                                      " connection(s) that did not finish their handshake within " +
                                      "handshake_timeout");
}

}  // namespace exed::agent_executor
