// When a job whose run was lost runs again: after its plugin host crashed
// under it (its own crash, or another call's) and after its worker was
// lost mid-run. A job that only reads is run again; one that changes
// things never runs twice: it is resumed through its executor (which knows
// what the lost call did, sdk.h 1.3) or it fails. A job that takes down
// whatever runs it is failed at its second crash, never retried for ever.
#pragma once

#include "jobs/store.hpp"
#include "plugins/executor_client.hpp"
#include "runner/job_hooks.hpp"

#include <string>

namespace exed::runner {

// A job whose runs ended with their executor's process this many times
// (plugin host crashes, lost workers) is failed, never run again.
constexpr int64_t kMaxCrashes = 2;

class CrashPolicy {
public:
    CrashPolicy(jobs::Store& store, plugins::ExecutorClient& client) : store_(store), client_(client) {}

    // The job's plugin is an executor that can resume a lost call.
    bool resumable(const jobs::Job& job) const;

    // A job reclaimed from a worker lost while it ran: why it fails, or
    // (refused empty) that it runs again, by its executor's resume when
    // `resume`. Counts the loss in the job's record.
    struct LostRun {
        std::string refused;
        bool resume = false;
    };
    LostRun after_lost_worker(const jobs::Job& job);

    // After a call that returned `r`: whether to call again (setting
    // `resume` when the executor's resume op is to finish the lost call);
    // otherwise `r` is the job's outcome (its error completed). A crash of
    // this call is counted in the job's record; a run the host named a
    // bystander of another call's crash is not, and runs again up to
    // kMaxBystanderReruns times in all (`bystander_reruns` counts them).
    bool again(const jobs::Job& job, const JobHooks& hooks, plugins::OpResult& r, bool& resume,
               int& bystander_reruns);

private:
    jobs::Store& store_;
    plugins::ExecutorClient& client_;
};

}  // namespace exed::runner
