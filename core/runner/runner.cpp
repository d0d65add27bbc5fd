#include "runner/runner.hpp"

#include "jobs/signature.hpp"
#include "catalogue.hpp"
#include "metrics/metrics.hpp"
#include "runner/host_results.hpp"

#include <Poco/Environment.h>
#include <Poco/Logger.h>
#include <Poco/Process.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace exed::runner {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.runner"); }
using Clock = std::chrono::steady_clock;

int64_t now_s() { return int64_t(time(nullptr)); }

bool is_read_only(const std::string& operation) {
    const auto* op = catalogue::find(operation);
    return op && op->read_only;
}

}  // namespace

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

WorkerPool::WorkerPool(const Settings& settings, plugins::ExecutorClient& client, jobs::Store& store,
                       jobs::Locks& locks, jobs::Queue& queue, jobs::QueuedLeases& queued,
                       std::string consumer_prefix)
    : settings_(settings), client_(client), store_(store), locks_(locks), queue_(queue), queued_(queued),
      prefix_(std::move(consumer_prefix)) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start(int workers) {
    running_ = true;
    workers_ = workers;
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { worker_loop(i); });
    threads_.emplace_back([this] { watchdog_loop(); });
}

void WorkerPool::stop() {
    if (!running_.exchange(false)) return;
    {
        std::lock_guard<std::mutex> l(mutex_);
        for (auto& [jid, a] : active_) a.hooks->stop("exed was stopped while the job ran");
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
}

void WorkerPool::worker_loop(int index) {
    std::string consumer = fmt::format("{}-w{}", prefix_, index);
    // The entry the last settle took for this worker: runs next. A worker
    // holds at most one such entry; if the runner stops first, it stays
    // pending and is reclaimed later (its job is still queued).
    std::optional<jobs::Taken> next;
    while (running_) {
        try {
            // Reclaimed entries first, as before settle took entries: under
            // a steady flow `next` is never empty, and a lost worker's job
            // would otherwise wait for the backlog to drain.
            std::optional<jobs::QueueEntry> lost;
            {
                std::lock_guard<std::mutex> l(mutex_);
                if (!reclaimed_.empty()) {
                    lost = reclaimed_.front();
                    reclaimed_.pop_front();
                }
            }
            if (lost) {
                auto taken = run_entry({*lost, store_.get(lost->jid)}, consumer, true, !next);
                if (!next) next = std::move(taken);
                continue;
            }
            jobs::Taken taken;
            if (next) {
                taken = std::move(*next);
                next.reset();
            } else {
                // The queue was empty after the last job: wait for an entry,
                // then read its record (the two round trips an idle worker adds).
                auto entry = queue_.next(consumer, 1000);
                if (!entry) continue;
                taken = {*entry, store_.get(entry->jid)};
            }
            next = run_entry(taken, consumer, false, true);
        } catch (const std::exception& e) {
            logger().error(fmt::format("worker {}: {} (retrying in 1 s)", consumer, e.what()));
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }
}

std::optional<jobs::Taken> WorkerPool::settle(const std::string& entry_id, const std::string& jid,
                                          const std::vector<std::string>& hosts,
                                          const std::optional<jobs::Ending>& end,
                                          const std::string& consumer, bool take_next) {
    // A stopping runner takes nothing more.
    auto s = store_.settle(entry_id, jid, hosts, end, take_next && running_ ? consumer : "");
    return std::move(s.next);
}

std::optional<jobs::Taken> WorkerPool::finish_failed(const jobs::Job& job, const std::string& entry_id,
                                                 const std::string& consumer, bool take_next,
                                                 const std::string& error, const std::string& status) {
    auto next = settle(entry_id, job.jid, job.targets, jobs::Ending{jobs::Failure, status, error, {}},
                       consumer, take_next);
    metrics::global().job_ended(job.operate, status);
    logger().warning(fmt::format("[{}] {}: {}", job.jid, status, error));
    return next;
}

std::optional<jobs::Taken> WorkerPool::run_entry(const jobs::Taken& taken, const std::string& consumer,
                                             bool reclaimed, bool take_next) {
    const auto& entry = taken.entry;
    const auto& job = taken.job;
    if (!job || jobs::status::terminal(job->status))  // expired, deleted or already ended
        return settle(entry.id, entry.jid, {}, std::nullopt, consumer, take_next);
    {
        std::lock_guard<std::mutex> l(mutex_);
        if (active_.count(job->jid)) return std::nullopt;  // already running here (double delivery)
    }
    // Verified here, on the record as read, before claim() changes anything:
    // a forged record is never marked running nor given locks.
    if (!jobs::signature_valid(settings_.job_secret, *job)) {
        return finish_failed(*job, entry.id, consumer, take_next,
                             "refused: the job's signature does not match this worker's job secret");
    }
    if (reclaimed && job->status == jobs::status::running && !is_read_only(job->operate)) {
        return finish_failed(*job, entry.id, consumer, take_next,
                             fmt::format("worker {} was lost while running the job", job->worker));
    }
    // The locks were leased at submit; claim re-takes them in case the lease
    // ran out while queued (re-entrant for this job, refused if someone else has them).
    auto claim = store_.claim(*job, consumer, now_s(), settings_.lease * 1000);
    if (claim.outcome == "cancel") {
        metrics::global().job_ended(job->operate, jobs::status::cancelled);
        return settle(entry.id, job->jid, job->targets,
                      jobs::Ending{jobs::Failure, jobs::status::cancelled, "cancelled", {}}, consumer,
                      take_next);
    }
    if (claim.outcome == "busy") {
        std::string hosts;
        for (auto& h : claim.busy) hosts += (hosts.empty() ? "" : ", ") + h;
        return finish_failed(*job, entry.id, consumer, take_next,
                             "operate conflict: " + hosts + " taken while the job was queued");
    }
    if (claim.outcome != "ok") return settle(entry.id, job->jid, {}, std::nullopt, consumer, take_next);
    if (reclaimed) logger().warning(fmt::format("[{}] rerunning read-only job of a lost worker", job->jid));
    return execute(*job, entry.id, consumer, take_next);
}

std::optional<jobs::Taken> WorkerPool::execute(jobs::Job job, const std::string& entry_id,
                                           const std::string& consumer, bool take_next) {
    int64_t started = now_s();
    auto hooks = std::make_shared<JobHooks>(store_, client_, job.jid, started + job.run_timeout);
    {
        std::lock_guard<std::mutex> l(mutex_);
        active_[job.jid] = Active{job, entry_id, consumer, hooks};
    }

    plugins::OpResult r;
    metrics::global().job_started();
    auto op_started = std::chrono::steady_clock::now();
    plugins::PluginRef plugin{job.plugin_kind, job.plugin_type};
    if (!client_.available(plugin)) {
        r.status = EXED_ERR;
        r.error = fmt::format("{} plugin '{}' is not loaded on worker {}", job.plugin_kind,
                              job.plugin_type, consumer);
    } else {
        logger().information(fmt::format("[{}] {} on {} host(s) by {}", job.jid, job.operate,
                                         job.targets.size(), consumer));
        // The document made and signed at submit, targets included, as is.
        r = client_.run(plugin, job.plugin_op, job.operate_args, *hooks);
    }

    metrics::global().op_finished(job.operate, job.plugin_type,
                                  std::chrono::duration<double>(std::chrono::steady_clock::now() - op_started).count());
    // Parsed once: what is stored and what decides the job's state.
    auto results = results_of(r.result);
    if (results.json.empty()) results = results_from_events(hooks->host_events());
    int state = jobs::Done;
    std::string status = jobs::status::done, error;
    if (hooks->stopping() && !r.ok()) {
        state = jobs::Failure;
        error = hooks->stop_reason();
        status = error == "cancelled" ? jobs::status::cancelled : jobs::status::failed;
    } else if (!r.ok()) {
        state = jobs::Failure;
        status = jobs::status::failed;
        error = r.error;
    } else if (const auto& failed = results.failed; !failed.empty()) {
        state = jobs::Failure;
        status = jobs::status::failed;
        error = "failed on " + std::to_string(failed.size()) + " host(s): ";
        for (size_t i = 0; i < failed.size(); ++i) error += (i ? ", " : "") + failed[i];
    }
    {
        std::lock_guard<std::mutex> l(mutex_);
        active_.erase(job.jid);
    }
    // Redis may be briefly away: the end of a job must not be lost. Only the
    // first attempt takes a next entry: a retry after a lost reply would
    // take a second one and strand the first until it is reclaimed.
    // The end is kept here until Redis takes it, however long the outage
    // (a killed embedded server is restarted; a full disk frees up): giving
    // up let the lease run out and the job be failed as "worker lost" while
    // it had succeeded (issue 14). reclaim() leaves such a job alone.
    std::optional<jobs::Taken> next;
    jobs::Ending end{state, status, error, std::move(results.json)};
    {
        std::lock_guard<std::mutex> l(mutex_);
        ending_.insert(job.jid);
    }
    for (int attempt = 0;; ++attempt) {
        try {
            next = settle(entry_id, job.jid, job.targets, end, consumer, take_next && attempt == 0);
            break;
        } catch (const redis::Unavailable& e) {
            if (!running_) {
                logger().error(fmt::format("[{}] stopped before the end could be recorded: {}; the "
                                           "lease will expire and another worker will settle it",
                                           job.jid, e.what()));
                break;
            }
            if (attempt % 30 == 0)
                logger().warning(fmt::format("[{}] {}: keeping the job's end ({}) until redis takes it",
                                             job.jid, e.what(), status));
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }
    {
        std::lock_guard<std::mutex> l(mutex_);
        ending_.erase(job.jid);
    }
    metrics::global().job_ended(job.operate, status);
    logger().information(fmt::format("[{}] {} {}{}", job.jid, job.operate, status,
                                     error.empty() ? "" : ": " + error));
    return next;
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
        if (!a.hooks->stopping()) {
            if (store_.cancel_requested(a.job.jid)) a.hooks->stop("cancelled");
            else if (now_s() >= a.hooks->deadline())
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
        auto lost = locks_.renew(a.job.targets, a.job.jid, lease_ms);
        if (!lost.empty()) logger().error(fmt::format("[{}] lost host locks", a.job.jid));
        queue_.heartbeat(a.consumer, a.entry_id);
    }
    for (auto& [jid, hosts] : queued_.snapshot()) {
        if (store_.status(jid) == jobs::status::queued) locks_.renew(hosts, jid, lease_ms);
        else queued_.forget(jid);
    }
}

void WorkerPool::reclaim() {
    if (workers_ == 0) return;  // nobody here could run what we claim
    auto entries = queue_.reclaim(prefix_ + "-reclaim", settings_.lease * 1000, 10);
    if (entries.empty()) return;
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
