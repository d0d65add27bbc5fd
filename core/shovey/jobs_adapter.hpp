// The one place the Shovey face meets the exed job manager, all of it
// through the operations core (core/operate): it submits a node's run as an
// ordinary exed job (operate `execute` of an argv on one host, through the
// Submitter: same validation, locks, queue, workers, cancel, TTL), reads
// such a job back, cancels it, and asks which hosts exist (Submitter's
// expansion and the executor's node status) and which answer a ping (the
// operations core's read-only call: the job path without the job).
// Kept in one small file so that it can be ported onto a reshaped core.
#pragma once

#include "operate/job_service.hpp"
#include "operate/read_only_call.hpp"
#include "operate/submitter.hpp"

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace exed::shovey {

// What the face needs of the exed job that runs a command on one node.
struct RunJob {
    std::string jid;
    std::string status;  // queued running done failed cancelled
    std::string error;
    bool cancel_requested = false;
    int run_timeout = 0;
    int64_t created_ms = 0;
    int64_t started_s = 0;   // 0 while queued
    int64_t finished_s = 0;  // 0 while not ended
    std::string result;      // the node's per-host result JSON ("" when none)
};

class JobsAdapter {
public:
    JobsAdapter(operate::Submitter& submitter, operate::JobService& jobs,
                operate::ReadOnlyCall& read_only)
        : submitter_(submitter), jobs_(jobs), read_only_(read_only) {}

    // Queues the named command `command` (exed's [shovey.commands] entry,
    // whose argv is `argv`) on `node` with a per-run timeout; returns the
    // jid. The job's args carry both: "argv" for executors that run exed's
    // definition (ansible, salt), "named_command" for the agent executor,
    // whose node runs its own definition of the name (issue 24, item 10).
    // Throws DomainError (conflict with the busy hosts, unavailable, ...).
    std::string submit_run(const std::string& node, const std::string& command,
                           const std::vector<std::string>& argv, int run_timeout);
    std::optional<RunJob> run(const std::string& jid);
    // The output a running job has streamed so far: its executor's
    // progress events named "output" ({host: {"name": "output", "stream",
    // "data"}}, as the agent executor emits them), as (stream, data) in
    // order. At most kMaxLiveChunks; empty for executors that stream none.
    std::vector<std::pair<std::string, std::string>> live_output(const std::string& jid);
    static constexpr int kMaxLiveChunks = 10000;
    // Like POST /jobs/<jid>/cancel: a queued job ends now, a running one
    // is stopped by its worker (process group TERM, KILL after cancel_grace).
    void cancel(const std::string& jid);

    // Every host the executor knows: the pattern "*", and the nodes it
    // reports down (an executor with `nodes` lists only live ones as targets).
    std::vector<std::string> known_hosts();
    // The executor's own node status (its optional `nodes` op); nullopt
    // when it has none: then node status comes from pings. Throws when the
    // op fails or the executor is not loaded.
    std::optional<std::vector<operate::NodeState>> executor_nodes() { return submitter_.node_states(); }
    // One ping of `hosts` (operate::ReadOnlyCall: no job, no lock, no
    // record): host -> answered. Stops early (everything unanswered) once
    // `stop` turns true. Throws DomainError when the ping cannot be made
    // (executor not loaded, a host gone from the inventory since listed).
    std::map<std::string, bool> ping(const std::vector<std::string>& hosts,
                                     const std::atomic<bool>& stop);

private:
    operate::Submitter& submitter_;
    operate::JobService& jobs_;
    operate::ReadOnlyCall& read_only_;
};

}  // namespace exed::shovey
