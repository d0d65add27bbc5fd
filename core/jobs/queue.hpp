// The job queue: a Redis stream with one consumer group shared by every
// worker (threads of exed, or `exed worker` processes on other machines).
// An entry stays pending until acked; a worker that dies leaves it pending,
// and after the lease another worker claims it (XAUTOCLAIM).
#pragma once

#include "redis/pool.hpp"

#include <optional>
#include <string>
#include <vector>

namespace exed::jobs {

struct QueueEntry {
    std::string id;   // stream entry id
    std::string jid;
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

private:
    redis::Pool& pool_;
};

}  // namespace exed::jobs
