// The worker pool's workers: each takes queue entries, claims and runs
// their jobs (job_call.hpp), and settles their ends (settle_retry.hpp),
// taking the next entries in the same step. The watchdog is watchdog.cpp.
#include "runner/runner.hpp"

#include "jobs/signature.hpp"
#include "metrics/metrics.hpp"
#include "runner/job_call.hpp"
#include "runner/job_end.hpp"
#include "runner/settle_retry.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <thread>

namespace exed::runner {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.runner"); }
using Clock = std::chrono::steady_clock;

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

int64_t now_s() { return int64_t(time(nullptr)); }

// Puts a job into one of the pool's registries (under the mutex) and takes
// it out again when it goes out of scope, whatever ends the scope, or
// earlier with release(): a job left in active_ (heartbeated) or ending_
// (skipped by reclaim) stayed "running" for ever.
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

}  // namespace

WorkerPool::WorkerPool(const Settings& settings, plugins::ExecutorClient& client, jobs::Store& store,
                       jobs::Locks& locks, jobs::Queue& queue, jobs::QueuedLeases& queued,
                       std::string consumer_prefix)
    : settings_(settings), client_(client), store_(store), locks_(locks), queue_(queue), queued_(queued),
      prefix_(std::move(consumer_prefix)), crashes_(store, client), groups_(settings.run_dir) {}

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
    if (fuse && s.claimed && s.claimed->outcome == jobs::status::running) {
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
                       ending(status, error), take);
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
        // A job whose worker was lost mid-run runs again only as the crash
        // policy says (a read-only one, or through its executor's resume).
        bool lost_mid_run = reclaimed && job->status == jobs::status::running;
        CrashPolicy::LostRun rerun;
        if (lost_mid_run && !(rerun = crashes_.after_lost_worker(*job)).refused.empty())
            return finish_failed(w, *job, entry.id, take, rerun.refused);
        // The locks were leased at submit; claim re-takes them in case the lease
        // ran out while queued (re-entrant for this job, refused if someone else
        // has them). A new delivery must still be queued: one taken ahead may
        // have been reclaimed and started by another worker meanwhile.
        auto claim = store_.claim(*job, w.consumer, now_s(), running_lock_ms(settings_.lease), !reclaimed);
        if (claim.outcome == "cancel") {
            metrics::global().job_ended(job->operate, jobs::status::cancelled);
            return settle(w, entry.id, job->jid, job->targets,
                          ending(jobs::status::cancelled, jobs::status::cancelled), take);
        }
        if (claim.outcome == "busy") {
            std::string hosts;
            for (auto& h : claim.busy) hosts += (hosts.empty() ? "" : ", ") + h;
            return finish_failed(w, *job, entry.id, take,
                                 "operate conflict: " + hosts + " taken while the job was queued");
        }
        if (claim.outcome == jobs::status::running) return {};  // another worker's now: no ack here
        if (claim.outcome != "ok") return settle(w, entry.id, job->jid, {}, std::nullopt, take);
        if (rerun.resume) {
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
    auto began = Clock::now();
    auto hooks = std::make_shared<JobHooks>(store_, client_, job.jid, now_s() + job.run_timeout,
                                            began + kDeferEvents, &groups_);
    Listed in_active(mutex_, [&] { active_[job.jid] = Active{job, entry_id, w.consumer, hooks}; },
                     [&] { active_.erase(job.jid); });
    metrics::global().job_started();
    auto r = call_job(client_, crashes_, job, *hooks, w.consumer, resume);
    metrics::global().op_finished(job.operate, job.plugin_type,
                                  std::chrono::duration<double>(Clock::now() - began).count());
    w.quick = Clock::now() - began < kAhead;
    auto end = judge(r, *hooks);
    // In ending_ before it leaves active_: reclaim() never sees it in neither.
    Listed in_ending(mutex_, [&] { ending_.insert(job.jid); }, [&] { ending_.erase(job.jid); });
    in_active.release();
    // Only the first attempt takes new entries or claims the held one: a
    // retry after a lost reply would take more and strand the first until
    // it is reclaimed (a held job claimed by a lost reply is refused as
    // "running" when run, and reclaimed after the lease like any stranded job).
    // While the end waits for redis, reclaim() leaves the job alone (ending_).
    Next next;
    settle_with_retries(job.jid, end, running_, [&](const jobs::Ending& e, bool first) {
        next = settle(w, entry_id, job.jid, job.targets, e, take && first);
    });
    metrics::global().job_ended(job.operate, end.status);
    logger().information(fmt::format("[{}] {} {}{}", job.jid, job.operate, end.status,
                                     end.error.empty() ? "" : ": " + end.error));
    return next;
}

}  // namespace exed::runner
