// exed's private redis-server: a child on a unix socket under the run dir,
// AOF on, so a restarted exed on the same run dir sees its old jobs.
#pragma once

#include <string>
#include <sys/types.h>

namespace exed::redis {

class EmbeddedServer {
public:
    // `run_dir` holds redis.sock, redis.pid, the AOF and redis.log.
    explicit EmbeddedServer(std::string run_dir);
    ~EmbeddedServer();  // stop()

    // Starts redis-server and waits until it answers PING. A server left
    // running by an earlier exed on this run dir is reused, not duplicated.
    // Throws std::runtime_error with the reason (and the log's tail).
    void start(int wait_seconds = 15);
    // SIGTERM (redis writes its AOF and exits), SIGKILL after 10 s.
    void stop();

    std::string socket_path() const { return run_dir_ + "/redis.sock"; }
    pid_t pid() const { return pid_; }

private:
    bool answers() const;

    std::string run_dir_;
    pid_t pid_ = 0;
    bool owned_ = false;
};

}  // namespace exed::redis
