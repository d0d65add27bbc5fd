// The pool's watchdog thread: cancel and run_timeout of the jobs running
// here, their leases (and those of the jobs this process queued), the
// reclaim of lost workers' entries, the index trim and the consumer sweep.
#include "runner/runner.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace exed::runner {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.runner"); }
using Clock = std::chrono::steady_clock;

// Queued jobs whose locks one renew_queued call extends: ~1 ms of Redis
// time per call with one host each, so workers never wait long behind it.
constexpr size_t kRenewBatch = 200;

}  // namespace

// A running job's host locks are leased for two leases, its queue entry for
// one. When its worker is lost, a live worker reclaims the entry (it looks
// every lease/2) and its claim re-takes the locks (re-entrant) before they
// expire. With equal leases they expired together, and a new job could take
// a host during the reclaim period while the lost job's command still ran:
// an agent's run, which the reclaim then resumed, or failed as "operate
// conflict" and left running (issue 23).
int running_lock_ms(int lease_s) { return 2 * lease_s * 1000; }

// Consumer names are per process (prefix = host-pid), so a dead process's
// consumers would stay in the group forever. Forgetting one with no pending
// entry loses nothing: its pending entries are all that matters of a
// consumer, and a worker whose consumer was forgotten gets it back with its
// next delivery (even while it waits in XREADGROUP BLOCK; tested on 7.0).
// Pending entries are never forgotten: they are reclaim's (an entry of a
// deleted consumer could never be reclaimed). The bound only limits churn
// of live workers of other processes: from Redis 7.2 `idle` counts from
// the last read attempt, so a waiting worker stays near 0 and is never
// forgotten; up to 7.0 it counts from the last delivery, so a live worker
// without work is forgotten once per idle stretch longer than the bound.
// Generous, so that a worker that was merely slow, paused or cut off from
// Redis for a while keeps its name; a dead process's names stay at most
// this long (plus one sweep period).
int64_t stale_consumer_ms(int lease_s) {
    return std::max<int64_t>(10 * int64_t(lease_s), 600) * 1000;
}

void WorkerPool::watchdog_loop() {
    auto last_renew = Clock::now(), last_reclaim = Clock::now(), last_trim = Clock::now(),
         last_sweep = Clock::now();
    // During an outage every tick fails the same way: say so once, then
    // every 30 s, and once more when it is over.
    std::string failing;
    auto last_warned = Clock::now() - std::chrono::hours(1);
    const auto renew_every = std::chrono::milliseconds(settings_.lease * 1000 / 3);
    const auto reclaim_every = std::chrono::milliseconds(settings_.lease * 1000 / 2);
    // Dead consumers pile up one process restart at a time: once per lease
    // is plenty, and keeps the O(consumers) XINFO off the hot path.
    const auto sweep_every = std::chrono::seconds(settings_.lease);
    while (running_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        try {
            watch_active();
            auto now = Clock::now();
            if (now - last_renew >= renew_every) {
                last_renew = now;
                renew_leases();
            }
            if (now - last_reclaim >= reclaim_every) {
                last_reclaim = now;
                reclaim();
            }
            if (now - last_trim >= std::chrono::minutes(1)) {
                last_trim = now;
                store_.trim_index();
            }
            if (now - last_sweep >= sweep_every) {
                last_sweep = now;
                sweep_consumers(stale_consumer_ms(settings_.lease));
            }
            if (!failing.empty()) {
                logger().information("watchdog: redis is back");
                failing.clear();
            }
        } catch (const std::exception& e) {
            if (e.what() != failing || Clock::now() - last_warned > std::chrono::seconds(30)) {
                logger().warning(std::string("watchdog: ") + e.what());
                last_warned = Clock::now();
            }
            failing = e.what();
        }
    }
}

// Cancel requests and run_timeout: stop the plugin, SIGTERM its process
// groups, SIGKILL after the grace period.
void WorkerPool::watch_active() {
    std::vector<Active> snapshot;
    {
        std::lock_guard<std::mutex> l(mutex_);
        for (auto& [jid, a] : active_) snapshot.push_back(a);
    }
    for (auto& a : snapshot) {
        a.hooks->flush_deferred();
        if (!a.hooks->stopping()) {
            if (store_.cancel_requested(a.job.jid)) a.hooks->stop(jobs::status::cancelled);
            else if (int64_t(time(nullptr)) >= a.hooks->deadline())
                a.hooks->stop(fmt::format("run_timeout of {} s exceeded", a.job.run_timeout));
        } else if (Clock::now() - a.hooks->stopped_at() >= std::chrono::seconds(settings_.cancel_grace)) {
            a.hooks->kill_remaining();
        }
    }
}

void WorkerPool::renew_leases() {
    std::vector<Active> running;
    {
        std::lock_guard<std::mutex> l(mutex_);
        for (auto& [jid, a] : active_) running.push_back(a);
    }
    int lease_ms = settings_.lease * 1000;
    for (auto& a : running) {
        auto lost = locks_.renew(a.job.targets, a.job.jid, running_lock_ms(settings_.lease));
        if (!lost.empty()) logger().error(fmt::format("[{}] lost host locks", a.job.jid));
        queue_.heartbeat(a.consumer, a.entry_id);
    }
    // Queued jobs in batches: one round trip per batch, not two per job.
    auto queued = queued_.snapshot();
    std::map<std::string, std::vector<std::string>> batch;
    for (auto it = queued.begin(); it != queued.end();) {
        batch.insert(queued.extract(it++));
        if (batch.size() < kRenewBatch && !queued.empty()) continue;
        for (auto& jid : locks_.renew_queued(batch, lease_ms)) queued_.forget(jid);
        batch.clear();
    }
}

void WorkerPool::reclaim() {
    if (workers_ == 0) return;  // nobody here could run what we claim
    auto entries = queue_.reclaim(prefix_ + "-reclaim", settings_.lease * 1000, 10);
    if (entries.empty()) return;
    // A lost worker of this machine (another exed sharing the run_dir) may
    // have left commands running: they end before its jobs are failed or
    // resumed and their locks freed. Another machine's are its own exed's
    // to end when it starts again (docs/ops.md).
    groups_.end_orphans();
    std::lock_guard<std::mutex> l(mutex_);
    for (auto& e : entries) {
        if (ending_.count(e.jid)) continue;  // ended here, its end waits for redis: ours to settle
        logger().warning(fmt::format("[{}] reclaimed from a worker that stopped heartbeating", e.jid));
        reclaimed_.push_back(e);
    }
}

int WorkerPool::sweep_consumers(int64_t min_idle_ms) {
    // Our own names are kept whatever Redis says of them: this process is
    // alive by definition, so there is nothing to clean up.
    std::vector<std::string> own{prefix_ + "-reclaim"};
    for (int i = 0; i < workers_; ++i) own.push_back(fmt::format("{}-w{}", prefix_, i));
    auto gone = queue_.forget_idle_consumers(min_idle_ms, own);
    if (!gone.empty())
        logger().information(fmt::format("watchdog: removed {} queue consumer(s) with nothing pending "
                                         "and idle for over {} s (workers of stopped processes)",
                                         gone.size(), min_idle_ms / 1000));
    return int(gone.size());
}

}  // namespace exed::runner
