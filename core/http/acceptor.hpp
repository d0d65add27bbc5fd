// The API's connection layer. One event thread owns every client connection
// that is not in a request: it accepts, refuses connections past the cap
// (503 JSON, then close), waits until a whole request header has arrived
// (MSG_PEEK for the blank line; TLS: until readable) within header_timeout,
// and closes idle keep-alive connections after keepalive_timeout. Only a
// connection with a complete header goes to one of `threads` workers, which
// runs the request(s) it holds and gives the socket back. So slow or idle
// clients and long follow streams (detached to the FollowHub) hold no
// worker, and a short request always finds one.
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace exed::http {

struct ConnectionLimits {
    int max_connections = 1024;
    int header_timeout = 10;     // s
    int keepalive_timeout = 15;  // s
    int threads = 16;
    int max_header = 16384;      // bytes of request line + headers (431 past it)
};

// What a worker did with a connection.
enum class Served { keep_alive, close, detached };

class Acceptor {
public:
    // `serve` runs the request(s) on a socket whose header has arrived.
    // `open` counts every client connection, detached streams included (their
    // owner decrements it when it closes them).
    Acceptor(Poco::Net::ServerSocket socket, ConnectionLimits limits,
             std::function<Served(Poco::Net::StreamSocket&)> serve, std::atomic<int>& open);
    ~Acceptor();
    void start();
    void stop();
    Poco::UInt16 port() const { return socket_.address().port(); }
    // Connections closed because their header did not arrive in time.
    long slow_closed() const { return slow_closed_; }

private:
    enum class State { idle, header, refusing };
    struct Conn {
        Poco::Net::StreamSocket socket;
        State state;
        std::chrono::steady_clock::time_point deadline;
    };
    void event_loop();
    void accept_one();
    void watch(Poco::Net::StreamSocket socket, State state, int seconds);
    void readable(int fd);
    void hand_to_worker(int fd);
    void refuse(Poco::Net::StreamSocket socket, int status, const std::string& message);
    void close(int fd);
    void expire();
    void take_returned();
    void worker_loop();

    Poco::Net::ServerSocket socket_;
    ConnectionLimits limits_;
    std::function<Served(Poco::Net::StreamSocket&)> serve_;
    std::atomic<int>& open_;
    std::atomic<long> slow_closed_{0};
    int epoll_ = -1;
    int wake_ = -1;  // eventfd: workers gave sockets back, or stop
    std::atomic<bool> stopping_{false};
    std::map<int, Conn> conns_;  // event thread only
    std::chrono::steady_clock::time_point last_expiry_;

    std::mutex mutex_;
    std::vector<Poco::Net::StreamSocket> returned_;  // keep-alive, back from workers
    std::deque<Poco::Net::StreamSocket> ready_;       // complete header, waiting for a worker
    std::condition_variable work_;
    std::thread events_;
    std::vector<std::thread> workers_;
};

}  // namespace exed::http
