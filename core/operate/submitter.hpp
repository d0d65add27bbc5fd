// Turns a validated request into a queued job: one call to the executor
// client expands the target patterns and lets the plugin check the
// arguments (giving the job's one arguments document), then every expanded
// host is locked atomically, the signed record written, the job enqueued.
// Sync requests use the very same path and then wait for the job's "end"
// event. Refusals are DomainError (errors.hpp).
#pragma once

#include "config.hpp"
#include "jobs/locks.hpp"
#include "jobs/queue.hpp"
#include "jobs/queued_leases.hpp"
#include "jobs/store.hpp"
#include "plugins/executor_client.hpp"
#include "plugins/executor_nodes.hpp"
#include "plugins/registry.hpp"

#include <Poco/JSON/Object.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace exed::operate {

// A node the executor tracks itself, up or down (its `nodes` op): how the
// faces see it, through node_states().
using NodeState = plugins::NodeState;

struct Submission {
    std::string operate;              // an operation of the catalogue
    Poco::JSON::Object::Ptr args;     // validated arguments, without targets
    std::vector<std::string> patterns;
    int run_timeout = 0;              // 0: the configured default
    bool sync = false;                // unknown hosts are not_found in sync mode, invalid in async
    // A sync request's deadline: submit waits no longer (e.g. for a plugin
    // host being restarted). max(): no deadline.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// The deadline of the request this thread serves (a sync request's
// sync_timeout, counted from its arrival), while the scope lives: every
// prepare made on this thread ends by it, those made on the request's
// behalf deeper down too (the token ACL's target expansion).
class RequestDeadline {
public:
    explicit RequestDeadline(std::chrono::steady_clock::time_point deadline);
    ~RequestDeadline();
    RequestDeadline(const RequestDeadline&) = delete;
    RequestDeadline& operator=(const RequestDeadline&) = delete;
    // max() outside any scope.
    static std::chrono::steady_clock::time_point current();

private:
    std::chrono::steady_clock::time_point previous_;
};

// The job failed because its plugin host died under it (a sync request
// answers 502 Bad Gateway: the upstream died).
bool ended_by_crash(const jobs::Job& job);

class Submitter {
public:
    Submitter(const Settings& settings, plugins::Registry& registry,
              plugins::ExecutorClient& client, jobs::Store& store, jobs::Locks& locks,
              jobs::Queue& queue, jobs::QueuedLeases& queued);

    // Throws DomainError (invalid, not_found, conflict with the busy hosts,
    // unavailable, unsupported, internal) when the job cannot be created.
    jobs::Job submit(const Submission& s);

    // The first half of submit, shared with ReadOnlyCall (the one operation
    // path, docs/architecture.md): which plugin and plugin op serve the
    // submission (the catalogue), the expanded targets and the plugin's
    // check, giving the job's one arguments document. Fills operate,
    // plugin_kind/type/op, targets and operate_args; no jid, lock, record.
    // Throws DomainError as submit does.
    jobs::Job prepare(const Submission& s);

    // Host names matched by the patterns, in order, without duplicates;
    // patterns that match nothing are left out.
    std::vector<std::string> expand(const std::vector<std::string>& patterns);

    // The executor's own node status (its optional `nodes` op: the agent
    // executor's up/down nodes); nullopt when it has none. Throws
    // std::runtime_error when the op fails.
    std::optional<std::vector<NodeState>> node_states();

    // Waits for the job to end (or until `deadline`); returns the final
    // job, or nullopt on timeout.
    std::optional<jobs::Job> wait(const std::string& jid, std::chrono::steady_clock::time_point deadline);

private:
    // Which plugin and operation serve a submission; fills job fields.
    void resolve(const Submission& s, jobs::Job& job);
    // unavailable when the configured executor is not loaded.
    void require_executor() const;
    // Back-pressure: unavailable while more than max_queued jobs wait, so a
    // flood of submits cannot pile up unbounded jobs (and their host locks).
    void check_backlog();

    const Settings& settings_;
    plugins::Registry& registry_;
    plugins::ExecutorClient& client_;
    jobs::Store& store_;
    jobs::Locks& locks_;
    jobs::Queue& queue_;
    jobs::QueuedLeases& queued_;  // a queued job's locks live until a worker takes it
    std::atomic<int64_t> backlog_{0};
    std::atomic<int64_t> backlog_checked_ms_{0};
};

}  // namespace exed::operate
