#include "runner/crash_policy.hpp"

#include "catalogue.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace exed::runner {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.runner"); }

// A run whose host another call crashed is run again at most this many
// times (each costs a host restart, a fraction of a second).
constexpr int kMaxBystanderReruns = 5;

// A read-only job that crashed its host waits this long before its one
// rerun: the restarted host serves other users' calls first, and a job
// that crashes it again does so less often (only its retries back off).
constexpr auto kCulpritPause = std::chrono::milliseconds(500);

}  // namespace

bool CrashPolicy::resumable(const jobs::Job& job) const {
    return job.plugin_kind == catalogue::kind_name(catalogue::Kind::Executor) &&
           client_.implements({job.plugin_kind, job.plugin_type}, catalogue::resume_op);
}

CrashPolicy::LostRun CrashPolicy::after_lost_worker(const jobs::Job& job) {
    bool read_only = catalogue::read_only(job.operate);
    if (!read_only && !resumable(job))
        return {fmt::format("worker {} was lost while running the job", job.worker)};
    // A read-only job is rerun once: a second loss is a job that takes
    // down whatever runs it (a plugin crashing an exed that runs it in
    // process), which must not crash-loop exed at every restart.
    if (store_.count_crash(job.jid) >= kMaxCrashes)
        return {fmt::format("worker {} was lost while running the job, its second loss or crash: not retried",
                            job.worker)};
    return {"", !read_only};
}

bool CrashPolicy::again(const jobs::Job& job, const JobHooks& hooks, plugins::OpResult& r, bool& resume,
                        int& bystander_reruns) {
    std::string why;
    bool culprit = r.status == plugins::kStatusCrashed;
    if (r.status == plugins::kStatusBystander) {
        // Not this job's crash: it costs the job nothing, but a job that
        // changes things may have done part of its work, so it is only
        // resumed (its executor knows how), never started over.
        if (hooks.stopping() || ++bystander_reruns > kMaxBystanderReruns) return false;
        why = ": another call crashed its plugin host";
    } else if (culprit) {
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
        why = " after a plugin host crash";
    } else {
        return false;
    }
    if (catalogue::read_only(job.operate)) {
        logger().warning(fmt::format("[{}] rerunning read-only job{}", job.jid, why));
        if (!culprit) return true;
        for (auto until = std::chrono::steady_clock::now() + kCulpritPause;
             std::chrono::steady_clock::now() < until && !hooks.stopping();)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return !hooks.stopping();
    }
    if (!resumable(job)) return false;
    logger().warning(fmt::format("[{}] resuming the job through its executor{}", job.jid, why));
    resume = true;
    return true;
}

}  // namespace exed::runner
