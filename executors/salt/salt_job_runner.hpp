// Runs one Salt function on a list of minions as an asynchronous job and
// reports each minion's outcome as soon as it is known.
//
//   1. open /events (returns are pushed there; without it we poll),
//   2. submit with the local_async client (tgt_type "list") -> jid, minions,
//   3. collect salt/job/<jid>/ret/<minion> events (or poll jobs.lookup_jid),
//   4. every `timeout` seconds, ask the silent minions saltutil.find_job:
//      a minion that does not answer is unreachable, one that still runs the
//      job is waited for (as the salt CLI does),
//   5. on cancel or run_timeout: saltutil.kill_job <jid> to the minions
//      still running, and stop waiting.
// Once the job is submitted, salt-api going away does not end it: the salt
// job runs on, so we retry salt-api with backoff until the job's deadline.
#pragma once

#include "salt_api_client.hpp"

#include <exed/sdk.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace exed::salt {

// What one minion gave back, or why it gave nothing.
struct MinionOutcome {
    std::string minion;
    bool returned = false;     // false: unreachable, `error` says why
    Var value;                 // the function's return
    bool has_retcode = false;  // events carry one, the job cache does not
    int retcode = 0;
    std::string error;
};

using OnOutcome = std::function<void(const MinionOutcome&)>;

class JobRunner {
public:
    JobRunner(SaltApiClient& api, const exed::Call& call) : api_(api), call_(call) {}

    // Runs `fun` with `arg`/`kwarg` on `targets`, in batches when [salt]
    // batch is set; calls `on_outcome` exactly once per target, on this
    // thread. Throws exed::Cancelled or exed::Error (timeout, salt-api down).
    void run(const std::vector<std::string>& targets, const std::string& fun,
             const Array::Ptr& arg, const Object::Ptr& kwarg, const OnOutcome& on_outcome);

private:
    void run_batch(const std::vector<std::string>& targets, const std::string& fun,
                   const Array::Ptr& arg, const Object::Ptr& kwarg, const OnOutcome& on_outcome);
    // True once the call was cancelled or its run_timeout passed.
    bool stop_requested() const;
    // Throws after killing the job when the call was cancelled or timed out.
    void stop_if_asked(const std::string& jid, const std::vector<std::string>& running);
    // Sleeps `d`, waking early when a stop is requested.
    void pause(std::chrono::milliseconds d) const;
    void kill_job(const std::string& jid, const std::vector<std::string>& minions);
    // {minion: return} from the job cache, whatever outputter wraps it.
    Object::Ptr lookup_jid(const std::string& jid);
    Object::Ptr find_job(const std::string& jid, const std::vector<std::string>& minions);

    SaltApiClient& api_;
    const exed::Call& call_;
};

// jobs.lookup_jid's answer as {minion: return}: Salt 3006.7 wraps the returns
// of functions with an outputter (state.apply, grains.items, minion errors)
// as {"outputter": "highstate"|"nested", "data": {…}}, others come plain.
Object::Ptr job_cache_returns(const Var& lookup_answer);

// A lowstate chunk for the local clients targeting an explicit minion list.
Object::Ptr local_lowstate(const std::string& client, const std::vector<std::string>& minions,
                           const std::string& fun, const Array::Ptr& arg,
                           const Object::Ptr& kwarg);

}  // namespace exed::salt
