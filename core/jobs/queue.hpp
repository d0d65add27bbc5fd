// The job queue: a Redis stream with one consumer group shared by every
// worker (threads of exed, or `exed worker` processes on other machines).
// An entry stays pending until acked; a worker that dies leaves it pending,
// and after the lease another worker claims it (XAUTOCLAIM).
#pragma once

#include "redis/pool.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace exed::jobs {

struct QueueEntry {
    std::string id;   // stream entry id
    std::string jid;
};

// One consumer of the group, as XINFO CONSUMERS reports it.
struct ConsumerInfo {
    std::string name;
    int64_t pending = 0;  // entries delivered to it and not yet acked
    // ms since Redis last saw it: up to 7.0, since a read or claim gave it
    // entries (a live worker that has no work grows idle); from 7.2, since
    // any read attempt (a worker waiting in XREADGROUP BLOCK stays near 0).
    int64_t idle_ms = 0;
};

class Queue {
public:
    explicit Queue(redis::Pool& pool) : pool_(pool) {}

    void ensure_group();  // idempotent
    // Entries not yet done (waiting or running).
    int64_t backlog();
    std::string push(const std::string& jid);
    // Waits up to block_ms for a new entry for `consumer`.
    std::optional<QueueEntry> next(const std::string& consumer, int block_ms);
    // (Done with an entry: Store::settle acks and deletes it, with the
    // job's end, in one step.)
    // Resets the entry's idle time: "I'm still on it".
    void heartbeat(const std::string& consumer, const std::string& id);
    // Entries idle longer than min_idle_ms, now owned by `consumer`.
    std::vector<QueueEntry> reclaim(const std::string& consumer, int min_idle_ms, int count);

    // The group's consumers (each worker thread that ever got an entry).
    std::vector<ConsumerInfo> consumers();
    // Removes, in one atomic step, up to `max` consumers that hold no
    // pending entry and were idle longer than min_idle_ms, except those
    // named in `keep`. Returns the names removed. Only the name goes: a
    // worker still using it is recreated by its next read. `max` bounds
    // the time the script holds Redis after a large backlog of dead names
    // (the rest go on the next calls).
    std::vector<std::string> forget_idle_consumers(int64_t min_idle_ms,
                                                   const std::vector<std::string>& keep,
                                                   int max = 1000);

private:
    redis::Pool& pool_;
};

}  // namespace exed::jobs
