// The worker pool: threads that take jobs from the Redis queue and run them
// through the executor client (runner.cpp), plus one watchdog thread that
// enforces cancel and run_timeout, renews leases, and reclaims jobs of
// workers that died (watchdog.cpp).
#pragma once

#include "config.hpp"
#include "jobs/locks.hpp"
#include "jobs/queue.hpp"
#include "jobs/queued_leases.hpp"
#include "jobs/store.hpp"
#include "plugins/executor_client.hpp"
#include "runner/crash_policy.hpp"
#include "runner/job_hooks.hpp"

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace exed::runner {

// How long a pending-free consumer must have been idle before the
// watchdog forgets it: 10 leases, at least 10 minutes (see runner.cpp).
int64_t stale_consumer_ms(int lease_s);
// How long a running job's host locks are leased (two leases: watchdog.cpp).
int running_lock_ms(int lease_s);

class WorkerPool {
public:
    // `queued`: the jobs this process queued; their locks are renewed until
    // a worker takes them (or they end).
    WorkerPool(const Settings& settings, plugins::ExecutorClient& client, jobs::Store& store,
               jobs::Locks& locks, jobs::Queue& queue, jobs::QueuedLeases& queued,
               std::string consumer_prefix);
    ~WorkerPool();

    // `workers` threads (0: only the watchdog, e.g. an API-only process).
    // First ends the commands that jobs of dead exed processes sharing this
    // run_dir left running: before anything here can take or free a lock.
    void start(int workers);
    // Stops taking jobs; running jobs are stopped (their processes killed)
    // and end as failed "exed was stopped while the job ran".
    void stop();

    // Forgets the queue group's consumers that hold no pending entry and
    // were idle longer than min_idle_ms (dead processes' workers), never
    // this process's own; returns how many. The watchdog runs it once per
    // lease with stale_consumer_ms(lease); public so that tests can run it
    // with a short bound.
    int sweep_consumers(int64_t min_idle_ms);

private:
    struct Active {
        jobs::Job job;
        std::string entry_id;
        std::string consumer;
        std::shared_ptr<JobHooks> hooks;
    };

    // One worker thread's own state, carried from job to job.
    struct Worker {
        std::string consumer;
        // An entry taken one job ahead with its record, not yet claimed:
        // the next settle claims it in the same step (see settle()).
        std::optional<jobs::Taken> held;
        // The last job this worker ran took less than kAhead: only then
        // does it take an entry ahead (it waits while the current job runs).
        bool quick = false;
    };
    // What a worker runs next: an entry, already claimed or not.
    struct Next {
        std::optional<jobs::Taken> taken;
        bool claimed = false;
    };

    void worker_loop(int index);
    void watchdog_loop();
    void watch_active();
    void renew_leases();
    void reclaim();
    // Runs one queue entry (with its record as read; `claimed`: the last
    // settle claimed it already) to its end, or skips it. `reclaimed`: it
    // was taken over from a worker that stopped heartbeating. With `take`,
    // the final settle also claims w.held and takes new entries.
    Next run_entry(Worker& w, const jobs::Taken& taken, bool reclaimed, bool claimed, bool take);
    // `resume`: the job's worker was lost mid-run: its executor's resume op
    // finishes what that worker started, instead of the op.
    Next execute(Worker& w, jobs::Job job, const std::string& entry_id, bool take, bool resume = false);
    Next finish_failed(Worker& w, const jobs::Job& job, const std::string& entry_id, bool take,
                       const std::string& error, const std::string& status = jobs::status::failed);
    // Store::settle. Unless stopping (or not `take`): claims w.held in the
    // same step when it may be claimed, and takes new entries.
    Next settle(Worker& w, const std::string& entry_id, const std::string& jid,
                const std::vector<std::string>& hosts, const std::optional<jobs::Ending>& end,
                bool take);
    // The checks run_entry makes before a claim, for an entry taken ahead.
    bool claimable(const jobs::Taken& taken);

    const Settings& settings_;
    plugins::ExecutorClient& client_;
    jobs::Store& store_;
    jobs::Locks& locks_;
    jobs::Queue& queue_;
    jobs::QueuedLeases& queued_;
    std::string prefix_;
    CrashPolicy crashes_;

    int workers_ = 0;
    std::atomic<bool> running_{false};
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::map<std::string, Active> active_;                        // jid -> running here
    std::set<std::string> ending_;  // ended here, end not yet recorded (redis away)
    std::deque<jobs::QueueEntry> reclaimed_;                       // waiting for a worker
    // The process groups of the jobs running here, in run_dir; start() and
    // reclaim() end those of exed processes that died (orphan_groups.hpp).
    GroupRecord groups_;
};

}  // namespace exed::runner
