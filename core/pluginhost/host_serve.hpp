// The plugin host's side of its socket (host_main.cpp wires it): reads
// exed's frames, runs each call (prepare, run, health) on a thread of the
// CallPool, sends the answers and a run's events back, and forwards cancel
// and credit to the run they name.
//
// A frame it cannot read (not JSON, invalid UTF-8, a field of the wrong
// type, a length past the limit) costs only its own call: a new call is
// answered with an error result, a run in flight is cancelled (it then
// answers as any cancelled run does), and the reading goes on. Only the
// socket closing ends it (issue 23: one byte 0xff in a host pattern used to
// end the host and every job it ran).
#pragma once

#include "plugins/executor_client.hpp"
#include "pluginhost/call_pool.hpp"
#include "pluginhost/frame.hpp"

#include <Poco/JSON/Object.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace exed::pluginhost {

class RemoteHooks;

class HostServer {
public:
    // Reads from `fd`, writes with `out` (which wrote the hello already).
    HostServer(plugins::ExecutorClient& client, FrameWriter& out, int fd) : client_(client), out_(out), fd_(fd) {}

    // Reads calls until the socket closes; then cancels the runs still going.
    void serve();
    CallPool& pool() { return pool_; }

private:
    void handle(const Poco::JSON::Object::Ptr& message, int64_t id);
    void refuse(int64_t id, const std::string& why);
    void call(const Poco::JSON::Object& message, const std::string& type, int64_t id);
    Poco::JSON::Object answer_of(const Poco::JSON::Object& message, const std::string& type, int64_t id,
                                 std::vector<std::string>& strings);

    plugins::ExecutorClient& client_;
    FrameWriter& out_;
    int fd_;
    CallPool pool_;
    std::mutex mutex_;
    bool closed_ = false;  // the socket to exed closed
    std::map<int64_t, std::shared_ptr<RemoteHooks>> runs_;
};

}  // namespace exed::pluginhost
