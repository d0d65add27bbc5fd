// exed's side of its plugin host: starts `exed plugin-host` on one end of
// a socketpair, restarts it with backoff when it dies, and carries calls
// to it. Calls share the one connection, each under its own id: a reader
// thread hands every frame to its call's inbox, and the calling thread
// (a request worker, a job's worker) handles them itself, so a slow
// consumer (a job writing events to Redis) never holds up the others.
// When the host dies, every call in flight ends "crashed" at once.
#pragma once

#include "pluginhost/frame.hpp"
#include "pluginhost/protocol.hpp"

#include <Poco/JSON/Object.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace exed::pluginhost {

// One call in flight.
class PendingCall {
public:
    explicit PendingCall(int64_t id) : id_(id) {}
    int64_t id() const { return id_; }
    // The host's next frame for this call, waiting up to `wait`; nullptr
    // when there was none (then crashed() says whether there will be).
    // The frame's raw strings go to `strings` when given.
    Poco::JSON::Object::Ptr next(std::chrono::milliseconds wait, std::vector<std::string>* strings = nullptr);
    bool crashed() const;
    // How the host died ("killed by signal 11 (Segmentation fault)").
    std::string crash() const;
    // The host named another call as the one that crashed it: this one
    // did nothing wrong and may simply be made again (crash_report.hpp).
    bool bystander() const;

    // A frame's text, parsed by next() in the calling thread.
    void deliver(std::string frame);
    void fail(const std::string& how, bool bystander = false);

private:
    int64_t id_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::string> inbox_;
    bool crashed_ = false;
    bool bystander_ = false;
    std::string crash_;
};

class HostProcess {
public:
    // `on_hello` runs at each start of a host with what it loaded.
    HostProcess(std::string config_path, std::function<void(const Listing&)> on_hello);
    ~HostProcess();

    // Starts the host and its supervisor; waits up to `wait_s` for the
    // first host to report its plugins. False when it did not (yet).
    bool start(int wait_s);
    // Waits up to `wait` for the first host's hello (its plugins loaded).
    bool wait_hello(std::chrono::milliseconds wait);
    bool hello_seen() const;
    // Closes the socket (the host finishes and exits), waits for it.
    void stop();

    // Sends `message` as a new call (its "id" is set here); waits up to
    // `wait` for a host that is up. nullptr when there is none.
    std::shared_ptr<PendingCall> call(Poco::JSON::Object message, std::chrono::milliseconds wait);
    // A message of a call in flight (cancel); dropped when the host is gone.
    void send(Poco::JSON::Object message);
    // The call got its result: its later frames (none) are not wanted.
    void end(int64_t id);

    // What the running host loaded; shared, not copied (asked per request).
    std::shared_ptr<const Listing> listing() const;
    pid_t pid() const;

private:
    // An open socket to one host incarnation; closed with its last user.
    struct Connection {
        int fd;
        FrameWriter writer;
        explicit Connection(int f) : fd(f), writer(f) {}
        ~Connection();
    };

    void supervise();
    bool spawn();                    // a new host and connection_, or false
    // True when the host said hello before its socket closed.
    bool read_frames(const std::shared_ptr<Connection>& conn, pid_t pid);
    std::string reap(pid_t pid, bool stopping);  // how it ended

    std::string config_path_;
    std::function<void(const Listing&)> on_hello_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;  // up_, stopping_, listing
    bool up_ = false;
    bool hello_seen_ = false;
    bool stopping_ = false;
    pid_t pid_ = 0;
    std::shared_ptr<Connection> connection_;
    int culprit_fd_ = -1;  // read end of the running host's crash report pipe
    std::map<int64_t, std::shared_ptr<PendingCall>> calls_;
    int64_t next_id_ = 1;
    std::shared_ptr<const Listing> listing_ = std::make_shared<Listing>();
    std::thread supervisor_;
};

}  // namespace exed::pluginhost
