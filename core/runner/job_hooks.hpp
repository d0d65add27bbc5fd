// CallHooks for a plugin running a job: events go to the job's Redis
// stream, child process groups are tracked so cancel/timeout can kill them,
// and releasers reach the executor through run_executor.
#pragma once

#include "jobs/store.hpp"
#include "plugins/executor_client.hpp"
#include "runner/orphan_groups.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace exed::runner {

class JobHooks : public plugins::CallHooks {
public:
    // Events emitted before `defer_until` are held back (see emit()). The
    // process groups the plugin tracks go into `record` too, while they run
    // (orphan_groups.hpp), when given.
    JobHooks(jobs::Store& store, plugins::ExecutorClient& client, std::string jid,
             int64_t deadline_epoch_s, std::chrono::steady_clock::time_point defer_until = {},
             GroupRecord* record = nullptr);
    ~JobHooks() override;

    // CallHooks
    void emit(const std::string& event_json) override;
    bool cancelled() override { return stop_.load(); }
    void track_process(pid_t pgid) override;
    void untrack_process(pid_t pgid) override;
    int run_executor(const std::string& request_json, std::string& out) override;
    int64_t deadline() override { return deadline_; }
    std::string job_id() const override { return jid_; }
    void forward_stop(std::function<void()> forward) override;

    // Control, from the watchdog: ask the plugin to stop and SIGTERM its
    // process groups; after the grace period, SIGKILL whatever is left.
    void stop(const std::string& reason);
    void kill_remaining();
    bool stopping() const { return stop_.load(); }
    std::string stop_reason() const;
    std::chrono::steady_clock::time_point stopped_at() const;

    // The host events seen so far, as emitted (up to kKeptEventBytes, the
    // latest kept), read only when a plugin fails before returning its
    // result map: parsed then, not on every emit.
    std::vector<std::string> host_events() const;
    static constexpr size_t kKeptEventBytes = 16 << 20;

    // Events held back: a job that ends within the deferral window gets
    // them written by its settle, in the round trip of its end, instead of
    // one round trip each. The worker takes them when the plugin returned
    // (later emits are written at once); the watchdog writes what a job
    // still running after the window holds (flush_deferred, every tick).
    std::vector<std::string> take_deferred();
    void flush_deferred();

private:
    void signal_all(int sig);
    void write_event(const std::string& event_json);  // with retries
    void write_deferred();                            // write_mutex_ held

    jobs::Store& store_;
    plugins::ExecutorClient& client_;
    std::string jid_;
    int64_t deadline_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::set<pid_t> groups_;
    GroupRecord* record_;
    std::function<void()> forward_stop_;  // set while a plugin host runs the op
    std::string reason_;
    std::chrono::steady_clock::time_point stopped_at_;
    std::vector<std::string> events_;
    size_t event_bytes_ = 0;
    // Serialises event writes, so events reach the stream in emit order and
    // none after the end (take_deferred waits for a flush in progress).
    std::mutex write_mutex_;
    std::chrono::steady_clock::time_point defer_until_;
    bool deferring_ = true;               // until take_deferred
    std::vector<std::string> deferred_;   // under write_mutex_
};

}  // namespace exed::runner
