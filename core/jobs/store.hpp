// Job records, per-job event streams and the job index, in Redis.
#pragma once

#include "jobs/model.hpp"
#include "jobs/queue.hpp"
#include "jobs/record_index.hpp"
#include "redis/pool.hpp"

#include <optional>
#include <string>
#include <vector>

namespace exed::jobs {

struct Event {
    std::string id;    // stream id, e.g. "1732371234567-0"
    std::string type;  // state | host | end
    std::string data;  // JSON
};

struct Page {
    std::vector<Job> jobs;
    std::string next_cursor;  // empty on the last page
};

// How a job ended, as finish() records it.
struct Ending {
    int state = Failure;
    std::string status;
    std::string error;
    std::map<std::string, std::string> returns;  // host -> result JSON
    // "host" events the plugin emitted that are not written yet (settle
    // appends them before "end", only when it records the end).
    std::vector<std::string> events;
};

// What Store::claim found: "ok" (the job is now running here), "cancel"
// (cancel requested while queued), "missing", "busy" (another job holds
// `busy`), or the terminal status the job already has.
struct Claim {
    std::string outcome;
    std::vector<std::string> busy;
};

// A queue entry given to a worker together with its job record, read in
// the same step (no record: it expired or was deleted).
struct Taken {
    QueueEntry entry;
    std::optional<Job> job;
};

// A claim to make (Store::claim, or inside Store::settle).
struct ClaimRequest {
    const Job* job = nullptr;  // as read, signature verified by the caller
    std::string worker;
    int64_t startat = 0;
    int lease_ms = 0;
    bool only_queued = false;  // refuse a job that is running already ("running")
};

struct Settled {
    bool finished = false;        // the end was recorded (not already ended)
    std::optional<Claim> claimed; // the outcome of the claim settle was asked to make
    std::optional<Taken> next;    // the first entry taken for the worker, when it asked
    std::optional<Taken> ahead;   // the second one (take = 2)
};

class Store {
public:
    Store(redis::Pool& pool, int job_ttl);

    // Writes the record, then indexes it (two slots: record first, so a
    // crash between leaves an unlisted record, never a dangling entry).
    void create(const Job& job);
    std::optional<Job> get(const std::string& jid);
    // Just the status field ("" when the record is gone).
    std::string status(const std::string& jid);
    std::map<std::string, std::string> returns(const std::string& jid);

    // Ends the job once: frees the locks the job holds on `hosts`, then (one
    // atomic step on the job's keys) sets status/error, stores per-host
    // results, appends the "end" event and starts the TTL; the two are
    // pipelined, in that order. `only_if` (when set) is the status the job
    // must still have, checked first (the caller requested a cancel before:
    // see store.cpp). Returns false if it was not applied. Safe to repeat.
    bool finish(const std::string& jid, int state, const std::string& status,
                const std::string& error, const std::map<std::string, std::string>& returns,
                const std::vector<std::string>& hosts, const std::string& only_if = "");

    // A worker's first step on a job it read and verified (two round trips:
    // check + locks pipelined, then the mark, which checks again):
    // unless the job is gone, ended or cancelled, takes its host locks again
    // (re-entrant; all or none: the lease may have run out while queued),
    // marks it running by `worker` and appends the "running" state event.
    // Nothing changes unless the outcome is "ok" (locks it took are given
    // back; leases it already held may be extended). With only_queued, a job
    // that is already running (reclaimed by another worker) is refused
    // with the outcome "running".
    Claim claim(const Job& job, const std::string& worker, int64_t startat, int lease_ms,
                bool only_queued = false);

    // A worker's last step on a queue entry, in two round trips of
    // pipelined steps (store.cpp says which; each is safe to repeat, so a
    // retry after Unavailable is right): records `end` like
    // finish() (when given; locks on `hosts` freed), acks and deletes the
    // entry, then claims `then_claim` like claim() (when given: the job the
    // worker took ahead and verified), and when `take_for` names a
    // consumer, takes up to `take` of its next new queue entries (without
    // waiting) with their records.
    Settled settle(const std::string& entry_id, const std::string& jid,
                   const std::vector<std::string>& hosts, const std::optional<Ending>& end,
                   const std::string& take_for = "", int take = 1,
                   const ClaimRequest* then_claim = nullptr);

    // Counts one more run of the job that ended with its executor's
    // process (a crashed plugin host, or a worker lost mid-run); returns
    // the count so far. The runner fails a job at its second, so a job
    // that crashes whatever runs it is never retried for ever.
    int64_t count_crash(const std::string& jid);

    void request_cancel(const std::string& jid);
    bool cancel_requested(const std::string& jid);

    std::string append_event(const std::string& jid, const std::string& type,
                             const std::string& data);
    // Events after `after_id` ("0" = from the start). With block_ms > 0,
    // waits up to that long for the first one (on its own connection).
    std::vector<Event> events(const std::string& jid, const std::string& after_id, int count,
                              int block_ms = 0);
    // Events of many jobs in one XREAD (the follow hub): (jid, after) in,
    // (jid, events) out for the jobs that have any; waits up to block_ms.
    std::vector<std::pair<std::string, std::vector<Event>>> events_of_many(
        const std::vector<std::pair<std::string, std::string>>& after, int count, int block_ms);

    // Newest first, `limit` per page, cursor from the previous page.
    Page list(int limit, const std::string& cursor, bool details);
    bool remove(const std::string& jid);
    // Drops up to `batch` of the oldest index entries whose record expired;
    // returns how many.
    int trim_index(int batch = 1000);

    redis::Pool& pool() { return pool_; }
    int ttl() const { return ttl_; }

private:
    redis::Pool& pool_;
    int ttl_;
    RecordIndex records_;  // the record + index + listing part
};

}  // namespace exed::jobs
