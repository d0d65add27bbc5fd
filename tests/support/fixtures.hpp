// Shared pieces of the integration tests: a real redis-server in a temp
// dir, and an exe.conf that runs the test executor plugin against it.
#pragma once

#include "redis/embedded.hpp"
#include "redis/pool.hpp"
#include "support/exed_process.hpp"
#include "support/temp_dir.hpp"

#include <memory>
#include <string>

namespace exed::test {

// A real redis-server on a unix socket (exed's own launcher, used here as
// the "shared Redis" that several exed processes point at).
struct SharedRedis {
    TempDir dir;
    std::unique_ptr<redis::EmbeddedServer> server;
    SharedRedis() { restart(); }
    void restart() {
        server = std::make_unique<redis::EmbeddedServer>(dir.path());
        server->start();
    }
    void stop() { server->stop(); }
    std::string url() const { return "unix://" + dir.path() + "/redis.sock"; }
    std::unique_ptr<redis::Pool> pool() const {
        return std::make_unique<redis::Pool>(redis::Url::unix_socket_at(dir.path() + "/redis.sock"), 4);
    }
};

// exe.conf for the test executor ("TEST PLUGIN"); `extra` is appended.
inline std::string test_config(const std::string& redis_url, const std::string& extra = "",
                               const std::string& plugin_dirs = "") {
    return "[api]\nlisten = 127.0.0.1\nlisten_port = @PORT@\nsync_timeout = 20\n"
           "[runner]\nexecutor = test\nredis_url = " + redis_url +
           "\nrun_dir = @DIR@/run\nconcurrency = 2\nlease = 3\ncancel_grace = 1\n"
           "job_secret = shared-by-this-test\n"
           "[log]\nlog_level = debug\n"
           "[plugins]\ndirs = " + (plugin_dirs.empty() ? test_plugin_dir("good") : plugin_dirs) +
           "\n[test]\nhosts = node1,node2,node3,web1,web2\ndown = web2\n" + extra;
}

}  // namespace exed::test
