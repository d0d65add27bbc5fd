// The API's connection layer. One event thread owns every client connection
// that is not in a request: it accepts, refuses connections past the cap
// (503 JSON, then close), does the TLS handshake without blocking (within
// handshake_timeout), reads the request header (within header_timeout) and
// its body (the whole request within request_timeout; request_gate.hpp says
// when it is whole), and closes idle keep-alive connections after
// keepalive_timeout. Only a whole request goes to one of `threads` workers,
// which runs it from memory and gives the socket back. So slow or idle
// clients and long follow streams (detached to the FollowHub) hold no
// worker, and a short request always finds one.
#pragma once

#include "http/request_gate.hpp"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace exed::http {

struct ConnectionLimits {
    int max_connections = 1024;
    int header_timeout = 10;     // s
    int keepalive_timeout = 15;  // s
    int threads = 16;
    int max_header = 16384;      // bytes of request line + headers (431 past it)
    int request_timeout = 30;    // s for a whole request, header and body (then 408)
    int handshake_timeout = 10;  // s for a TLS handshake
    size_t max_body = 1 << 20;   // Content-Length past it: 413
};

// What a worker did with a connection.
enum class Served { keep_alive, close, detached };

class Acceptor {
public:
    // `serve` runs one whole request (header and body, as received) and
    // answers on the socket.
    // `open` counts every client connection, detached streams included (their
    // owner decrements it when it closes them).
    Acceptor(Poco::Net::ServerSocket socket, ConnectionLimits limits,
             std::function<Served(Poco::Net::StreamSocket&, std::string)> serve, std::atomic<int>& open);
    ~Acceptor();
    void start();
    void stop();
    Poco::UInt16 port() const { return socket_.address().port(); }
    // Connections closed because their handshake, header or body did not
    // arrive in time.
    long slow_closed() const { return slow_closed_; }

private:
    enum class State { handshake, idle, header, body, refusing };
    using Time = std::chrono::steady_clock::time_point;
    struct Conn {
        Poco::Net::StreamSocket socket;
        State state;
        Time deadline;          // of the current state
        Time request_deadline;  // of the whole request (header and body)
        std::string buf;        // received since the request began
        size_t need = 0;        // bytes of the whole request, once its header is in
        bool continued = false; // "100 Continue" sent
        bool eof = false;       // the client sent all it will
    };
    struct Ready {  // a whole request, waiting for a worker
        Poco::Net::StreamSocket socket;
        std::string request;
        std::string rest;  // bytes received past it: the next request's
    };
    struct Returned {
        Poco::Net::StreamSocket socket;
        std::string rest;
    };
    void event_loop();
    void accept_one();
    Conn& watch(Poco::Net::StreamSocket socket, State state, int seconds);
    void readable(int fd);
    bool handshake(int fd, Conn& c);
    bool fill(int fd, Conn& c);
    void inspect(int fd, Conn& c);
    GateLimits gate_limits() const;
    void send_now(Conn& c, const std::string& bytes);
    void hand_to_worker(int fd, std::string request, std::string rest);
    void refuse_conn(int fd, int status, const std::string& message);
    void refuse(Poco::Net::StreamSocket socket, int status, const std::string& message, bool can_answer = true);
    void close(int fd);
    void expire();
    void take_returned();
    void worker_loop();

    Poco::Net::ServerSocket socket_;
    ConnectionLimits limits_;
    std::function<Served(Poco::Net::StreamSocket&, std::string)> serve_;
    std::atomic<int>& open_;
    std::atomic<long> slow_closed_{0};
    int epoll_ = -1;
    int wake_ = -1;  // eventfd: workers gave sockets back, or stop
    std::atomic<bool> stopping_{false};
    std::map<int, Conn> conns_;  // event thread only
    std::chrono::steady_clock::time_point last_expiry_;

    std::mutex mutex_;
    std::vector<Returned> returned_;  // keep-alive, back from workers
    std::deque<Ready> ready_;         // whole requests, waiting for a worker
    std::condition_variable work_;
    std::thread events_;
    std::vector<std::thread> workers_;
};

}  // namespace exed::http
