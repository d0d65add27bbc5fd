#include "runner/runner.hpp"

#include "jobs/signature.hpp"
#include "catalogue.hpp"
#include "json.hpp"
#include "metrics/metrics.hpp"
#include "runner/host_results.hpp"

#include <Poco/Environment.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Process.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

namespace exed::runner {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.runner"); }
using Clock = std::chrono::steady_clock;

// Queued jobs whose locks one renew_queued call extends: ~1 ms of Redis
// time per call with one host each, so workers never wait long behind it.
constexpr size_t kRenewBatch = 200;

// A worker takes an entry one job ahead (and claims it with the current
// job's settle, one round trip for both) only after a job that ran less
// than this: the held entry waits while the current job runs, so a worker
// running slow jobs (ansible: seconds) never holds one back from others.
constexpr auto kAhead = std::chrono::milliseconds(20);

// Host events a job emits in its first milliseconds are held back: if it
// ends soon after (a quick executor), its settle writes them with the end,
// saving a round trip per event; if it runs on, the watchdog writes them
// at its next tick (every 200 ms). Later events are written at once.
constexpr auto kDeferEvents = std::chrono::milliseconds(10);

// A job whose runs ended with their executor's process this many times
// (plugin host crashes, lost workers) is failed, never run again.
constexpr int64_t kMaxCrashes = 2;

// A run whose host another call crashed is run again at most this many
// times (each costs a host restart, a fraction of a second).
constexpr int kMaxBystanderReruns = 5;

// A read-only job that crashed its host waits this long before its one
// rerun: the restarted host serves other users' calls first, and a job
// that crashes it again does so less often (only its retries back off).
constexpr auto kCulpritPause = std::chrono::milliseconds(500);

int64_t now_s() { return int64_t(time(nullptr)); }

// Attempts of a settle that Redis refused with an error (not an outage)
// before the end is recorded without the plugin's results and events, and
// (one more) before it is left to the lease.
constexpr int kSettleRefusals = 3;

plugins::OpResult call_failed(const std::string& what) {
    plugins::OpResult r;
    r.status = EXED_ERR;
    r.error = "the plugin call failed: " + what;
    return r;
}

// Puts a job into one of the pool's registries (under the mutex) and takes
// it out again when it goes out of scope, whatever ends the scope, or
// earlier with release().
class Listed {
public:
    template <class Add>
    Listed(std::mutex& m, Add add, std::function<void()> remove) : mutex_(m), remove_(std::move(remove)) {
        std::lock_guard<std::mutex> l(mutex_);
        add();
    }
    ~Listed() { release(); }
    Listed(const Listed&) = delete;
    Listed& operator=(const Listed&) = delete;
    void release() {
        if (!remove_) return;
        std::lock_guard<std::mutex> l(mutex_);
        remove_();
        remove_ = nullptr;
    }

private:
    std::mutex& mutex_;
    std::function<void()> remove_;
};

// A running job's host locks are leased for two leases, its queue entry for
// one. When its worker is lost, a live worker reclaims the entry (it looks
// every lease/2) and its claim re-takes the locks (re-entrant) before they
// expire. With equal leases they expired together, and a new job could take
// a host during the reclaim period while the lost job's command still ran:
// an agent's run, which the reclaim then resumed, or failed as "operate
// conflict" and left running (issue 23).
int running_lock_ms(int lease_s) { return 2 * lease_s * 1000; }

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
      prefix_(std::move(consumer_prefix)), groups_(settings.run_dir) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start(int workers) {
    // An exed killed with the process running its plugins (kill -9 of both,
    // isolation = in_process, an OOM kill) left their commands running:
    // they end before this process serves or runs anything (issue 23).
    if (int n = groups_.end_orphans())
        logger().warning(fmt::format("ended {} process group(s) of jobs whose exed died", n));
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
    Worker w;
    w.consumer = fmt::format("{}-w{}", prefix_, index);
    // What the last settle left this worker: the entry to run next (maybe
    // claimed already) and w.held. If the runner stops first, they stay
    // pending and are reclaimed later (their jobs are still queued); a job
    // the last settle claimed is ended below.
    Next next;
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
                bool idle = !next.taken && !w.held;
                auto got = run_entry(w, {*lost, store_.get(lost->jid)}, true, false, idle);
                if (idle) next = std::move(got);
                continue;
            }
            jobs::Taken taken;
            bool claimed = false;
            if (next.taken) {
                taken = std::move(*next.taken);
                claimed = next.claimed;
            } else if (w.held) {
                taken = std::move(*w.held);
                w.held.reset();
            } else {
                // The queue was empty after the last job: wait for an entry,
                // then read its record (the two round trips an idle worker adds).
                auto entry = queue_.next(w.consumer, 1000);
                if (!entry) continue;
                taken = {*entry, store_.get(entry->jid)};
            }
            next = {};
            next = run_entry(w, taken, false, claimed, true);
        } catch (const std::exception& e) {
            logger().error(fmt::format("worker {}: {} (retrying in 1 s)", w.consumer, e.what()));
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }
    // Claimed by the last settle just as the runner stopped: it never ran.
    if (next.taken && next.claimed && next.taken->job) {
        try {
            finish_failed(w, *next.taken->job, next.taken->entry.id, false,
                          "exed was stopped while the job ran");
        } catch (const std::exception& e) {
            logger().error(fmt::format("[{}] could not record the end: {}; the lease will expire "
                                       "and another worker will settle it", next.taken->entry.jid, e.what()));
        }
    }
}

bool WorkerPool::claimable(const jobs::Taken& taken) {
    const auto& job = taken.job;
    if (!job || job->status != jobs::status::queued) return false;
    {
        std::lock_guard<std::mutex> l(mutex_);
        if (active_.count(job->jid)) return false;
    }
    // Verified here, before the claim that settle makes: a forged record is
    // never marked running nor given locks (run_entry fails it instead).
    return jobs::signature_valid(settings_.job_secret, *job);
}

WorkerPool::Next WorkerPool::settle(Worker& w, const std::string& entry_id, const std::string& jid,
                                    const std::vector<std::string>& hosts,
                                    const std::optional<jobs::Ending>& end, bool take) {
    // A stopping runner takes and claims nothing more.
    if (!take || !running_) {
        store_.settle(entry_id, jid, hosts, end);
        return {};
    }
    // With an entry held, claim it here and take one more ahead only after a
    // quick job; without, take one (two after a quick job: one to run, one
    // to hold). A held entry that fails the pre-claim checks runs through
    // run_entry, which ends it properly.
    jobs::ClaimRequest claim;
    bool fuse = w.held && claimable(*w.held);
    if (fuse) claim = {&*w.held->job, w.consumer, now_s(), running_lock_ms(settings_.lease), true};
    int take_n = fuse ? (w.quick ? 1 : 0) : w.held ? 0 : (w.quick ? 2 : 1);
    auto s = store_.settle(entry_id, jid, hosts, end, take_n > 0 ? w.consumer : "", take_n,
                           fuse ? &claim : nullptr);
    Next out;
    auto held = std::move(w.held);
    w.held.reset();
    if (fuse && s.claimed && s.claimed->outcome == "running") {
        // Reclaimed by another worker while held: theirs now (no ack here).
        held.reset();
    } else if (held) {
        out.taken = std::move(held);
        out.claimed = fuse && s.claimed && s.claimed->outcome == "ok";
    }
    if (!out.taken) {
        out.taken = std::move(s.next);
        w.held = std::move(s.ahead);
    } else {
        w.held = std::move(s.next);
    }
    return out;
}

WorkerPool::Next WorkerPool::finish_failed(Worker& w, const jobs::Job& job, const std::string& entry_id,
                                           bool take, const std::string& error, const std::string& status) {
    auto next = settle(w, entry_id, job.jid, job.targets,
                       jobs::Ending{jobs::Failure, status, error, {}, {}}, take);
    metrics::global().job_ended(job.operate, status);
    logger().warning(fmt::format("[{}] {}: {}", job.jid, status, error));
    return next;
}

WorkerPool::Next WorkerPool::run_entry(Worker& w, const jobs::Taken& taken, bool reclaimed, bool claimed,
                                       bool take) {
    const auto& entry = taken.entry;
    const auto& job = taken.job;
    if (!claimed) {  // else the last settle claimed it, after claimable() verified it
        if (!job || jobs::status::terminal(job->status))  // expired, deleted or already ended
            return settle(w, entry.id, entry.jid, {}, std::nullopt, take);
        {
            std::lock_guard<std::mutex> l(mutex_);
            if (active_.count(job->jid)) return {};  // already running here (double delivery)
        }
        // Verified here, on the record as read, before claim() changes anything:
        // a forged record is never marked running nor given locks.
        if (!jobs::signature_valid(settings_.job_secret, *job)) {
            return finish_failed(w, *job, entry.id, take,
                                 "refused: the job's signature does not match this worker's job secret");
        }
        // A job that changes things is never run twice: it fails, unless its
        // executor can resume what the lost worker started (agents).
        bool lost_mid_run = reclaimed && job->status == jobs::status::running;
        if (lost_mid_run && !is_read_only(job->operate) && !resumable(*job)) {
            return finish_failed(w, *job, entry.id, take,
                                 fmt::format("worker {} was lost while running the job", job->worker));
        }
        // A read-only job is rerun once: a second loss is a job that takes
        // down whatever runs it (a plugin crashing an exed that runs it in
        // process), which must not crash-loop exed at every restart.
        if (reclaimed && job->status == jobs::status::running && store_.count_crash(job->jid) >= kMaxCrashes) {
            return finish_failed(w, *job, entry.id, take,
                                 fmt::format("worker {} was lost while running the job, its second loss or "
                                             "crash: not retried", job->worker));
        }
        // The locks were leased at submit; claim re-takes them in case the lease
        // ran out while queued (re-entrant for this job, refused if someone else
        // has them). A new delivery must still be queued: one taken ahead may
        // have been reclaimed and started by another worker meanwhile.
        auto claim = store_.claim(*job, w.consumer, now_s(), running_lock_ms(settings_.lease), !reclaimed);
        if (claim.outcome == "cancel") {
            metrics::global().job_ended(job->operate, jobs::status::cancelled);
            return settle(w, entry.id, job->jid, job->targets,
                          jobs::Ending{jobs::Failure, jobs::status::cancelled, "cancelled", {}, {}}, take);
        }
        if (claim.outcome == "busy") {
            std::string hosts;
            for (auto& h : claim.busy) hosts += (hosts.empty() ? "" : ", ") + h;
            return finish_failed(w, *job, entry.id, take,
                                 "operate conflict: " + hosts + " taken while the job was queued");
        }
        if (claim.outcome == "running") return {};  // another worker's now: no ack here
        if (claim.outcome != "ok") return settle(w, entry.id, job->jid, {}, std::nullopt, take);
        if (lost_mid_run && !is_read_only(job->operate)) {
            logger().warning(fmt::format("[{}] resuming the job of lost worker {} through its executor",
                                         job->jid, job->worker));
            return execute(w, *job, entry.id, take, true);
        }
        if (reclaimed) logger().warning(fmt::format("[{}] rerunning read-only job of a lost worker", job->jid));
    }
    return execute(w, *job, entry.id, take);
}

WorkerPool::Next WorkerPool::execute(Worker& w, jobs::Job job, const std::string& entry_id, bool take,
                                     bool resume) {
    int64_t started = now_s();
    auto began = Clock::now();
    auto hooks = std::make_shared<JobHooks>(store_, client_, job.jid, started + job.run_timeout,
                                            began + kDeferEvents, &groups_);
    // Whatever happens below, the job leaves active_ (heartbeated while in
    // it) and ending_ (skipped by reclaim while in it): a job left in either
    // stayed "running" forever.
    Listed in_active(mutex_, [&] { active_[job.jid] = Active{job, entry_id, w.consumer, hooks}; },
                     [&] { active_.erase(job.jid); });

    plugins::OpResult r;
    metrics::global().job_started();
    auto op_started = std::chrono::steady_clock::now();
    plugins::PluginRef plugin{job.plugin_kind, job.plugin_type};
    if (!client_.available(plugin)) {
        r.status = EXED_ERR;
        r.error = fmt::format("{} plugin '{}' is not loaded on worker {}", job.plugin_kind,
                              job.plugin_type, w.consumer);
    } else {
        logger().information(fmt::format("[{}] {} on {} host(s) by {}", job.jid, job.operate,
                                         job.targets.size(), w.consumer));
        // The document made and signed at submit, targets included, as is.
        auto call = [&] {
            if (!resume) return client_.run(plugin, job.plugin_op, job.operate_args, *hooks);
            Poco::JSON::Object lost;  // the lost call, for the executor's resume
            lost.set("op", job.plugin_op);
            lost.set("args", parse_json(job.operate_args));
            return client_.run(plugin, catalogue::resume_op, json_string(lost), *hooks);
        };
        // An exception from the call (the client, the hooks, the resume
        // document) is the job's failure, settled like any other.
        try {
            r = call();
            int bystander_reruns = 0;
            while (rerun_after_crash(job, *hooks, r, resume, bystander_reruns)) r = call();
        } catch (const std::exception& e) {
            r = call_failed(e.what());
        } catch (...) {
            r = call_failed("unknown exception");
        }
    }

    metrics::global().op_finished(job.operate, job.plugin_type,
                                  std::chrono::duration<double>(std::chrono::steady_clock::now() - op_started).count());
    w.quick = Clock::now() - began < kAhead;
    auto deferred = hooks->take_deferred();
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
    // In ending_ before it leaves active_: reclaim() never sees it in neither.
    Listed in_ending(mutex_, [&] { ending_.insert(job.jid); }, [&] { ending_.erase(job.jid); });
    in_active.release();
    jobs::Ending end{state, status, error, std::move(results.json), std::move(deferred)};
    Next next = settle_end(w, job, entry_id, end, take);
    metrics::global().job_ended(job.operate, end.status);
    logger().information(fmt::format("[{}] {} {}{}", job.jid, job.operate, end.status,
                                     end.error.empty() ? "" : ": " + end.error));
    return next;
}

WorkerPool::Next WorkerPool::settle_end(Worker& w, const jobs::Job& job, const std::string& entry_id,
                                        jobs::Ending& end, bool take) {
    // Redis may be briefly away: the end of a job must not be lost. It is
    // kept here until Redis takes it, however long the outage (a killed
    // embedded server is restarted; a full disk frees up): giving up let the
    // lease run out and the job be failed as "worker lost" while it had
    // succeeded (issue 14). reclaim() leaves a job in ending_ (the caller
    // lists it there) alone.
    // Only the first attempt takes new entries or claims the held one: a
    // retry after a lost reply would take more and strand the first until
    // it is reclaimed (a held job claimed by a lost reply is refused as
    // "running" when run, and reclaimed after the lease like any stranded job).
    int refused = 0;  // attempts that failed otherwise than by redis being away
    for (int attempt = 0;; ++attempt) {
        try {
            return settle(w, entry_id, job.jid, job.targets, end, take && attempt == 0);
        } catch (const redis::Unavailable& e) {
            if (!running_) {
                logger().error(fmt::format("[{}] stopped before the end could be recorded: {}; the "
                                           "lease will expire and another worker will settle it",
                                           job.jid, e.what()));
                return {};
            }
            if (attempt % 30 == 0)
                logger().warning(fmt::format("[{}] {}: keeping the job's end ({}) until redis takes it",
                                             job.jid, e.what(), end.status));
        } catch (const std::exception& e) {
            // Redis answered, with an error: maybe a dropped connection
            // (Poco says so with the same exception), maybe this end itself
            // (its results, its events). Retried as is, then once more
            // without what the plugin handed back; then it is left to the
            // lease: out of ending_, the job is reclaimed and failed as
            // "worker lost" (or rerun if read-only) — it never stays running.
            ++refused;
            logger().error(fmt::format("[{}] recording the end ({}) failed: {}", job.jid, end.status, e.what()));
            if (refused == kSettleRefusals) {
                end = jobs::Ending{jobs::Failure, jobs::status::failed,
                                   std::string("its end could not be recorded: ") + e.what(), {}, {}};
            } else if (refused > kSettleRefusals || !running_) {
                logger().error(fmt::format("[{}] giving up: the lease will expire and a worker will "
                                           "reclaim the job", job.jid));
                return {};
            }
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
}

bool WorkerPool::rerun_after_crash(const jobs::Job& job, JobHooks& hooks, plugins::OpResult& r, bool& resume,
                                   int& bystander_reruns) {
    if (r.status == plugins::kStatusBystander) {
        // Not this job's crash: it costs the job nothing, but a job that
        // changes things may have done part of its work, so it is only
        // resumed (its executor knows how), never started over.
        if (hooks.stopping() || ++bystander_reruns > kMaxBystanderReruns) return false;
        if (is_read_only(job.operate)) {
            logger().warning(fmt::format("[{}] rerunning read-only job: another call crashed its plugin host",
                                         job.jid));
            return true;
        }
        if (!resumable(job)) return false;
        logger().warning(fmt::format("[{}] resuming the job: another call crashed its plugin host", job.jid));
        resume = true;
        return true;
    }
    if (r.status != plugins::kStatusCrashed) return false;
    int64_t crashes = 0;
    try {
        crashes = store_.count_crash(job.jid);
    } catch (const std::exception& e) {
        logger().warning(fmt::format("[{}] cannot count the crash: {}", job.jid, e.what()));
        return false;
    }
    if (crashes >= kMaxCrashes) {
        r.error += "; it crashed its executor twice: failed, not retried";
        return false;
    }
    if (hooks.stopping()) return false;
    if (is_read_only(job.operate)) {
        logger().warning(fmt::format("[{}] rerunning read-only job after a plugin host crash", job.jid));
        for (auto until = Clock::now() + kCulpritPause; Clock::now() < until && !hooks.stopping();)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return !hooks.stopping();
    }
    if (!resumable(job)) return false;
    logger().warning(fmt::format("[{}] resuming the job through its executor after a plugin host crash", job.jid));
    resume = true;
    return true;
}

bool WorkerPool::resumable(const jobs::Job& job) {
    return job.plugin_kind == catalogue::kind_name(catalogue::Kind::Executor) &&
           client_.implements({job.plugin_kind, job.plugin_type}, catalogue::resume_op);
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
