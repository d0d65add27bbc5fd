// Turns a validated request into a queued job: expand the target patterns
// through the executor, let the plugin check the arguments, lock every
// expanded host atomically, write the record, enqueue. Sync requests use
// the very same path and then wait for the job's "end" event.
#pragma once

#include "config.hpp"
#include "jobs/locks.hpp"
#include "jobs/queue.hpp"
#include "jobs/store.hpp"
#include "plugins/registry.hpp"

#include <Poco/JSON/Object.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace exed::operate {

struct Submission {
    std::string operate;              // ping facter service execute deploy release
    Poco::JSON::Object::Ptr args;     // validated arguments, without targets
    std::vector<std::string> patterns;
    int run_timeout = 0;              // 0: the configured default
    bool sync = false;                // unknown hosts are 404 in sync mode, 400 in async
};

class Submitter {
public:
    // Called after a job is queued so its locks are kept alive until a
    // worker takes it over.
    using OnQueued = std::function<void(const std::string& jid, const std::vector<std::string>& hosts)>;

    Submitter(const Settings& settings, plugins::Registry& registry, jobs::Store& store,
              jobs::Locks& locks, jobs::Queue& queue, OnQueued on_queued);

    // Throws ApiError (400/404/409/503) when the job cannot be created.
    jobs::Job submit(const Submission& s);

    // Host names matched by the patterns, in order, without duplicates.
    // Unmatched patterns -> ApiError(unmatched_status) naming them.
    std::vector<std::string> expand(const std::vector<std::string>& patterns, int unmatched_status);

    // Waits for the job to end (or `timeout_s`); returns the final job, or
    // nullopt on timeout.
    std::optional<jobs::Job> wait(const std::string& jid, int timeout_s);

    plugins::PluginPtr executor() const;

private:
    // Which plugin and operation serve a submission; fills job fields.
    plugins::PluginPtr resolve(const Submission& s, jobs::Job& job);
    // Back-pressure: 503 while more than max_queued jobs wait, so a flood
    // of submits cannot pile up unbounded jobs (and their host locks).
    void check_backlog();

    const Settings& settings_;
    plugins::Registry& registry_;
    jobs::Store& store_;
    jobs::Locks& locks_;
    jobs::Queue& queue_;
    OnQueued on_queued_;
    std::atomic<int64_t> backlog_{0};
    std::atomic<int64_t> backlog_checked_ms_{0};
};

}  // namespace exed::operate
