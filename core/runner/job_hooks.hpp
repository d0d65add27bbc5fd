// CallHooks for a plugin running a job: events go to the job's Redis
// stream, child process groups are tracked so cancel/timeout can kill them,
// and releasers reach the executor through run_executor.
#pragma once

#include "jobs/store.hpp"
#include "plugins/executor_client.hpp"

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
    JobHooks(jobs::Store& store, plugins::ExecutorClient& client, std::string jid,
             int64_t deadline_epoch_s);

    // CallHooks
    void emit(const std::string& event_json) override;
    bool cancelled() override { return stop_.load(); }
    void track_process(pid_t pgid) override;
    void untrack_process(pid_t pgid) override;
    int run_executor(const std::string& request_json, std::string& out) override;
    int64_t deadline() override { return deadline_; }
    std::string job_id() const override { return jid_; }

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

private:
    void signal_all(int sig);

    jobs::Store& store_;
    plugins::ExecutorClient& client_;
    std::string jid_;
    int64_t deadline_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::set<pid_t> groups_;
    std::string reason_;
    std::chrono::steady_clock::time_point stopped_at_;
    std::vector<std::string> events_;
    size_t event_bytes_ = 0;
};

}  // namespace exed::runner
