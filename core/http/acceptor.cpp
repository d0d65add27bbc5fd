#include "http/acceptor.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocketImpl.h>

#include <fmt/format.h>

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
    Poco::Net::HTTPResponse head{Poco::Net::HTTPResponse::HTTPStatus(status)};
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
                   std::function<Served(Poco::Net::StreamSocket&)> serve, std::atomic<int>& open)
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
        refuse(client, 503, fmt::format("too many connections (max_connections = {}); retry later",
                                        limits_.max_connections));
        return;
    }
    ++open_;
    client.setNoDelay(true);
    watch(client, State::header, limits_.header_timeout);
}

// Level-triggered would wake us for every byte a slow client already sent
// and we still wait on: edge-triggered wakes on new bytes only.
void Acceptor::watch(Poco::Net::StreamSocket socket, State state, int seconds) {
    socket.setBlocking(false);
    int fd = socket.impl()->sockfd();
    conns_[fd] = Conn{socket, state, Clock::now() + std::chrono::seconds(seconds)};
    epoll_add(epoll_, fd, EPOLLIN | EPOLLRDHUP | EPOLLET);
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
    // TLS: the kernel holds ciphertext; the worker reads the header under
    // the socket's receive timeout instead (docs/architecture.md).
    if (c.socket.secure()) return hand_to_worker(fd);
    std::string buf(size_t(limits_.max_header) + 1, '\0');
    ssize_t got = ::recv(fd, &buf[0], buf.size(), MSG_PEEK | MSG_DONTWAIT);
    if (got == 0) return close(fd);
    if (got < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) close(fd);
        return;
    }
    buf.resize(size_t(got));
    if (buf.find("\r\n\r\n") != std::string::npos || buf.find("\n\n") != std::string::npos)
        return hand_to_worker(fd);
    if (got > limits_.max_header) {
        Poco::Net::StreamSocket socket = c.socket;
        epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        conns_.erase(it);
        --open_;
        return refuse(socket, 431, fmt::format("request header larger than {} bytes", limits_.max_header));
    }
    if (c.state == State::idle) {  // a keep-alive client starts its next request
        c.state = State::header;
        c.deadline = Clock::now() + std::chrono::seconds(limits_.header_timeout);
    }
}

void Acceptor::hand_to_worker(int fd) {
    auto it = conns_.find(fd);
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(it->second.socket);
    }
    conns_.erase(it);
    work_.notify_one();
}

void Acceptor::refuse(Poco::Net::StreamSocket socket, int status, const std::string& message) {
    long refusing = 0;
    for (auto& [fd, c] : conns_) refusing += c.state == State::refusing;
    // TLS would need a handshake to answer; a flood of refusals, the fds.
    if (socket.secure() || refusing >= limits_.max_connections) {
        socket.close();
        return;
    }
    std::string answer = json_answer(status, message);
    (void)::send(socket.impl()->sockfd(), answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(socket.impl()->sockfd(), SHUT_WR);
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
        // A client that began a header and did not finish it in time is slow
        // (slowloris); one that sent nothing, or nothing after its last
        // answer, is idle. Both are closed without an answer, as HTTP allows.
        if (conns_[fd].state == State::header) ++slow_closed_;
        close(fd);
    }
}

void Acceptor::take_returned() {
    uint64_t count;
    (void)!::read(wake_, &count, sizeof count);
    std::vector<Poco::Net::StreamSocket> back;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        back.swap(returned_);
    }
    for (auto& s : back) watch(s, State::idle, limits_.keepalive_timeout);
}

void Acceptor::worker_loop() {
    for (;;) {
        Poco::Net::StreamSocket socket;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            work_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
            if (stopping_) return;
            socket = ready_.front();
            ready_.pop_front();
        }
        Served served = Served::close;
        try {
            socket.setBlocking(true);
            served = serve_(socket);
        } catch (const std::exception& e) {
            log().debug(fmt::format("connection: {}", e.what()));
        }
        if (served == Served::keep_alive && !stopping_) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                returned_.push_back(socket);
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
