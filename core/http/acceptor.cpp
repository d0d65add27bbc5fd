#include "http/acceptor.hpp"

#include "http/request_gate.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SecureStreamSocketImpl.h>
#include <Poco/Net/StreamSocketImpl.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

namespace exed::http {

namespace {

Poco::Logger& log() { return Poco::Logger::get("exed.http"); }

using Clock = std::chrono::steady_clock;

// A refused client gets its answer and up to this long to read it before
// the close (closing on unread request bytes would reset the connection
// and could destroy the answer).
constexpr int kRefuseLinger = 2;

void epoll_add(int epoll, int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
}

std::string json_answer(int status, const std::string& message) {
    Poco::JSON::Object body;
    body.set("message", message);
    std::ostringstream json;
    body.stringify(json);
    Poco::Net::HTTPResponse head{Poco::Net::HTTPMessage::HTTP_1_1, Poco::Net::HTTPResponse::HTTPStatus(status)};
    head.setContentType("application/json");
    head.setContentLength(std::streamsize(json.str().size()));
    head.setKeepAlive(false);
    if (status == 503) head.set("Retry-After", "1");
    std::ostringstream out;
    head.write(out);
    out << json.str();
    return out.str();
}

}  // namespace

Acceptor::Acceptor(Poco::Net::ServerSocket socket, ConnectionLimits limits,
                   std::function<Served(Poco::Net::StreamSocket&, std::string)> serve, std::atomic<int>& open)
    : socket_(std::move(socket)), limits_(limits), serve_(std::move(serve)), open_(open) {}

Acceptor::~Acceptor() { stop(); }

void Acceptor::start() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_ < 0 || wake_ < 0) throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    socket_.setBlocking(false);
    // No child (ansible, the fork server, agents' commands) may inherit the
    // listening socket or a client's: a close-delimited follow stream ends
    // only when every copy of its socket is closed.
    ::fcntl(socket_.impl()->sockfd(), F_SETFD, FD_CLOEXEC);
    epoll_add(epoll_, socket_.impl()->sockfd(), EPOLLIN);
    epoll_add(epoll_, wake_, EPOLLIN);
    last_expiry_ = Clock::now();
    for (int i = 0; i < limits_.threads; ++i) workers_.emplace_back([this] { worker_loop(); });
    events_ = std::thread([this] { event_loop(); });
}

void Acceptor::stop() {
    if (stopping_.exchange(true)) return;
    if (wake_ >= 0) {
        uint64_t one = 1;
        (void)!::write(wake_, &one, sizeof one);
    }
    work_.notify_all();
    if (events_.joinable()) events_.join();
    for (auto& w : workers_) w.join();
    workers_.clear();
    for (auto& [fd, c] : conns_) c.socket.close();
    conns_.clear();
    socket_.close();
    if (epoll_ >= 0) ::close(epoll_);
    if (wake_ >= 0) ::close(wake_);
    epoll_ = wake_ = -1;
}

void Acceptor::event_loop() {
    const int listen_fd = socket_.impl()->sockfd();
    epoll_event events[256];
    while (!stopping_) {
        int n = epoll_wait(epoll_, events, 256, 250);
        for (int i = 0; i < n && !stopping_; ++i) {
            int fd = events[i].data.fd;
            try {
                if (fd == listen_fd) accept_one();
                else if (fd == wake_) take_returned();
                else readable(fd);
            } catch (const std::exception& e) {
                log().warning(fmt::format("connection layer: {}", e.what()));
                if (fd != listen_fd && fd != wake_) close(fd);
            }
        }
        if (Clock::now() - last_expiry_ > std::chrono::milliseconds(250)) expire();
    }
}

void Acceptor::accept_one() {
    // Plain TCP: accept4 with SOCK_CLOEXEC (Poco's acceptConnection has no
    // flag), so a process forked at that moment cannot keep the client's
    // socket. TLS: Poco must accept (it wraps the socket in its SSL layer);
    // close-on-exec follows at once, and exed's own spawns close every fd
    // past 2 anyway (a plugin's might not).
    Poco::Net::StreamSocket client;
    if (socket_.secure()) {
        try {
            client = socket_.acceptConnection();
        } catch (const Poco::Exception&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // see below
            return;
        }
        ::fcntl(client.impl()->sockfd(), F_SETFD, FD_CLOEXEC);
    } else {
        int fd = ::accept4(socket_.impl()->sockfd(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            // The client went before we took it, or no fds are left: the
            // listening socket stays readable, so pause instead of spinning.
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            return;
        }
        client = Poco::Net::StreamSocket(new Poco::Net::StreamSocketImpl(fd));
    }
    if (open_ >= limits_.max_connections) {
        // TLS would need a handshake to answer: closed.
        refuse(client, 503, fmt::format("too many connections (max_connections = {}); retry later",
                                        limits_.max_connections), !client.secure());
        return;
    }
    ++open_;
    client.setNoDelay(true);
    if (client.secure()) {
        watch(client, State::handshake, limits_.handshake_timeout);
    } else {
        Conn& c = watch(client, State::header, limits_.header_timeout);
        c.request_deadline = Clock::now() + std::chrono::seconds(limits_.request_timeout);
        c.deadline = std::min(c.deadline, c.request_deadline);
    }
}

// Level-triggered would wake us for every byte a slow client already sent
// and we still wait on: edge-triggered wakes on new bytes only. A TLS
// connection may need to write (handshake) before it can read on: it also
// waits for writable.
//
// Poco's TLS layer waits on its own when OpenSSL wants the socket: it polls
// as long as the socket's receive (send) timeout when its inner socket
// thinks it blocks (always: setBlocking reaches only the outer one), then
// throws TimeoutException. With both timeouts 0 that poll returns at once:
// "would block" (a worker's HTTPServerSession sets its own again).
Acceptor::Conn& Acceptor::watch(Poco::Net::StreamSocket socket, State state, int seconds) {
    socket.setBlocking(false);
    if (socket.secure()) {
        socket.setReceiveTimeout(Poco::Timespan(0));
        socket.setSendTimeout(Poco::Timespan(0));
    }
    int fd = socket.impl()->sockfd();
    auto now = Clock::now();
    Conn& c = conns_[fd] = Conn{socket, state, now + std::chrono::seconds(seconds), now, {}, 0, false, false};
    epoll_add(epoll_, fd, EPOLLIN | EPOLLRDHUP | EPOLLET | (socket.secure() ? uint32_t(EPOLLOUT) : 0u));
    return c;
}

void Acceptor::readable(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn& c = it->second;
    if (c.state == State::refusing) {
        char sink[4096];
        ssize_t got;
        while ((got = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT)) > 0) {}
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) close(fd);
        return;
    }
    if (c.state == State::handshake && !handshake(fd, c)) return;
    if (!fill(fd, c)) return close(fd);
    inspect(fd, c);
}

// Poco's server-side handshake on a non-blocking socket: 1 when done,
// ERR_SSL_WANT_READ/WRITE while it needs the client, an exception when it
// failed (a client without the certificate tls_client_auth requires fails
// here, inside OpenSSL; Poco's extra host-name check is off for clients,
// tls.cpp, so nothing is skipped by not reading through receiveBytes).
bool Acceptor::handshake(int fd, Conn& c) {
    int rc;
    try {
        rc = static_cast<Poco::Net::SecureStreamSocketImpl*>(c.socket.impl())->completeHandshake();
    } catch (const Poco::TimeoutException&) {
        return false;  // would block (see watch())
    } catch (const Poco::Exception& e) {
        log().debug(fmt::format("TLS handshake failed: {}", e.displayText()));
        close(fd);
        return false;
    }
    if (rc != 1) return false;
    auto now = Clock::now();
    c.request_deadline = now + std::chrono::seconds(limits_.request_timeout);
    c.deadline = std::min(now + std::chrono::seconds(limits_.header_timeout), c.request_deadline);
    c.state = State::header;
    return true;
}

// Reads what the client sent, up to the end of the request once that is
// known (more is the next request's: it is read when this one is done).
// false: the connection failed.
bool Acceptor::fill(int fd, Conn& c) {
    char chunk[16384];
    for (;;) {
        size_t limit = c.need ? c.need : size_t(limits_.max_header) + 1;
        if (c.buf.size() >= limit) return true;
        size_t want = std::min(sizeof chunk, limit - c.buf.size());
        if (c.socket.secure()) {
            int n;
            try {
                n = c.socket.receiveBytes(chunk, int(want));
            } catch (const Poco::TimeoutException&) {
                return true;  // would block (see watch())
            } catch (const Poco::Exception&) {
                return false;
            }
            if (n == 0) return c.eof = true;
            if (n < 0) return true;  // ERR_SSL_WANT_READ / _WRITE: later
            c.buf.append(chunk, size_t(n));
        } else {
            ssize_t n = ::recv(fd, chunk, want, MSG_DONTWAIT);
            if (n == 0) return c.eof = true;
            if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
            c.buf.append(chunk, size_t(n));
        }
        if (!c.need) {  // the header may be complete now
            Gate g = inspect_request(c.buf, gate_limits());
            if (g.header_done && g.kind != Gate::refuse) c.need = g.length;
            if (g.kind == Gate::refuse) return true;
        }
    }
}

void Acceptor::inspect(int fd, Conn& c) {
    if (c.buf.empty()) {
        if (c.eof) close(fd);
        return;
    }
    if (c.state == State::idle) {  // a keep-alive client starts its next request
        auto now = Clock::now();
        c.state = State::header;
        c.request_deadline = now + std::chrono::seconds(limits_.request_timeout);
        c.deadline = std::min(now + std::chrono::seconds(limits_.header_timeout), c.request_deadline);
    }
    if (c.state == State::body && c.need) {
        // The header was checked when it came (and framed the request:
        // c.need); only the body's bytes count now, so a trickling body
        // costs no parse of its header per read.
        if (c.buf.size() >= c.need) return hand_to_worker(fd, c.buf.substr(0, c.need), c.buf.substr(c.need));
        if (c.eof) close(fd);  // the client stopped sending before its request was whole
        return;
    }
    Gate g = inspect_request(c.buf, gate_limits());
    if (g.kind == Gate::refuse) return refuse_conn(fd, g.status, g.message);
    if (g.kind == Gate::complete) {
        std::string rest = c.buf.substr(g.length);
        return hand_to_worker(fd, std::move(g.request), std::move(rest));
    }
    if (c.eof) return close(fd);  // the client stopped sending before its request was whole
    if (!g.header_done) return;
    if (c.state != State::body) {
        c.state = State::body;
        c.deadline = c.request_deadline;
    }
    if (g.expect_continue && !c.continued) {
        c.continued = true;
        send_now(c, "HTTP/1.1 100 Continue\r\n\r\n");
    }
}

// A short answer on a socket that has room for it (a fresh connection's
// send buffer); whatever does not fit is dropped, never waited for.
void Acceptor::send_now(Conn& c, const std::string& bytes) {
    if (c.socket.secure()) {
        try {
            (void)c.socket.sendBytes(bytes.data(), int(bytes.size()));
        } catch (const Poco::Exception&) {
        }
        return;
    }
    (void)::send(c.socket.impl()->sockfd(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

GateLimits Acceptor::gate_limits() const { return GateLimits{size_t(limits_.max_header), limits_.max_body}; }

void Acceptor::hand_to_worker(int fd, std::string request, std::string rest) {
    auto it = conns_.find(fd);
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(Ready{it->second.socket, std::move(request), std::move(rest)});
    }
    conns_.erase(it);
    work_.notify_one();
}

// A connection in the middle of a request: answered, then closed as refuse().
void Acceptor::refuse_conn(int fd, int status, const std::string& message) {
    auto it = conns_.find(fd);
    Poco::Net::StreamSocket socket = it->second.socket;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    conns_.erase(it);
    --open_;
    refuse(socket, status, message);
}

void Acceptor::refuse(Poco::Net::StreamSocket socket, int status, const std::string& message, bool can_answer) {
    long refusing = 0;
    for (auto& [fd, c] : conns_) refusing += c.state == State::refusing;
    // A flood of refusals would take the fds: closed without an answer.
    if (!can_answer || refusing >= limits_.max_connections) {
        try {
            socket.close();
        } catch (const Poco::Exception&) {
        }
        return;
    }
    std::string answer = json_answer(status, message);
    int fd = socket.impl()->sockfd();
    if (socket.secure()) {
        // Through TLS; no half close (TLS has none), the linger below still
        // lets the client read the answer before the close.
        try {
            socket.setBlocking(false);
            (void)socket.sendBytes(answer.data(), int(answer.size()));
        } catch (const Poco::Exception&) {
        }
    } else {
        (void)::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);
    }
    watch(socket, State::refusing, kRefuseLinger);
}

void Acceptor::close(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    if (it->second.state != State::refusing) --open_;
    try {
        it->second.socket.close();
    } catch (const Poco::Exception&) {
    }
    conns_.erase(it);
}

void Acceptor::expire() {
    auto now = Clock::now();
    last_expiry_ = now;
    std::vector<int> late;
    for (auto& [fd, c] : conns_)
        if (c.deadline < now) late.push_back(fd);
    for (int fd : late) {
        // A client that began a handshake or a header and did not finish it
        // in time is slow (slowloris): closed without an answer, as HTTP
        // allows. One whose header came but not its body in time (past
        // request_timeout) gets 408 and the close. One that sent nothing,
        // or nothing after its last answer, is idle: closed.
        State state = conns_[fd].state;
        if (state == State::handshake || state == State::header || state == State::body) ++slow_closed_;
        if (state == State::body) {
            refuse_conn(fd, 408, fmt::format("the request did not arrive within request_timeout ({} s)",
                                             limits_.request_timeout));
        } else {
            close(fd);
        }
    }
}

void Acceptor::take_returned() {
    uint64_t count;
    (void)!::read(wake_, &count, sizeof count);
    std::vector<Returned> back;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        back.swap(returned_);
    }
    for (auto& r : back) {
        Conn& c = watch(r.socket, State::idle, limits_.keepalive_timeout);
        c.buf = std::move(r.rest);
        // The next request may be here already (read with the last one, in
        // the kernel, or in the TLS layer's buffer): no edge will tell.
        readable(r.socket.impl()->sockfd());
    }
}

void Acceptor::worker_loop() {
    for (;;) {
        Ready ready;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            work_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
            if (stopping_) return;
            ready = std::move(ready_.front());
            ready_.pop_front();
        }
        Poco::Net::StreamSocket& socket = ready.socket;
        Served served = Served::close;
        try {
            socket.setBlocking(true);
            served = serve_(socket, std::move(ready.request));
        } catch (const std::exception& e) {
            log().debug(fmt::format("connection: {}", e.what()));
        }
        if (served == Served::keep_alive && !stopping_) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                returned_.push_back(Returned{socket, std::move(ready.rest)});
            }
            uint64_t one = 1;
            (void)!::write(wake_, &one, sizeof one);
        } else if (served != Served::detached) {
            try {
                socket.close();
            } catch (const Poco::Exception&) {
            }
            --open_;
        }
    }
}

}  // namespace exed::http
