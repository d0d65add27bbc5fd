// exed's private redis-server: a child on a unix socket under the run dir,
// AOF on, so a restarted exed on the same run dir sees its old jobs.
// Supervised: a server that dies (kill -9, OOM) is restarted with backoff
// and reloads its AOF. One exed per run dir owns it (redis.lock); a server
// orphaned by an exed that was killed is shut down (its AOF flushed) and
// replaced by our own child, so a later clean stop leaves nothing behind.
// With EXED_TEST_REDIS_CLUSTER=1 in the environment (the test suite's
// cluster pass, docs/ops.md) it is a one-node Redis Cluster owning all
// 16384 slots: the same server, with cluster rules (a script or a
// multi-key command touches one hash slot; only DB 0).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <sys/types.h>

namespace exed::redis {

class EmbeddedServer {
public:
    // `run_dir` holds redis.sock, redis.pid, redis.lock, the AOF and redis.log.
    explicit EmbeddedServer(std::string run_dir, bool cluster = cluster_requested());
    ~EmbeddedServer();  // stop()

    // Starts redis-server and waits until it answers PING. A server still
    // answering from an exed that died is replaced; a server of a live
    // exed on the same run dir (it holds redis.lock) is used, not owned.
    // Throws std::runtime_error with the reason (and the log's tail).
    void start(int wait_seconds = 15);
    // From now on, restart the server whenever it dies (backoff 0.5 s
    // doubling to 10 s), until stop().
    void supervise();
    // SIGTERM (redis writes its AOF and exits), SIGKILL after 10 s.
    void stop();

    // EXED_TEST_REDIS_CLUSTER is "1". Unset (production): a plain server.
    static bool cluster_requested();

    std::string socket_path() const { return run_dir_ + "/redis.sock"; }
    bool cluster() const { return cluster_; }
    pid_t pid() const { return pid_; }
    int restarts() const { return restarts_; }

private:
    bool answers() const;
    bool take_lock();
    void shut_down_orphan();
    void spawn_and_wait(int wait_seconds);
    pid_t spawn(const std::vector<std::string>& args);
    std::vector<std::string> server_args() const;
    void own_all_slots(std::chrono::steady_clock::time_point until);
    void supervise_loop();

    std::string run_dir_;
    bool cluster_ = false;
    std::atomic<pid_t> pid_{0};
    bool owned_ = false;  // our child: we restart and stop it
    int lock_fd_ = -1;
    std::atomic<int> restarts_{0};
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread supervisor_;
};

}  // namespace exed::redis
