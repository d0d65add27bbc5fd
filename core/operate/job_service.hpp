// What a face may do with existing jobs: read, list, follow, delete,
// cancel, and whether the job store and the executor are up. Faces reach
// the job store only through here (and Submitter), so its errors arrive as
// DomainError (a lost Redis is Errc::unavailable).
#pragma once

#include "config.hpp"
#include "jobs/store.hpp"
#include "plugins/executor_client.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace exed::operate {

struct Health {
    bool store_ok = false;
    bool executor_loaded = false;
    // The executor's check("health") (e.g. salt-api reachable); executors
    // without that notion accept it. Empty when ready.
    std::string executor_error;
    bool executor_ok() const { return executor_loaded && executor_error.empty(); }
};

class JobService {
public:
    JobService(const Settings& settings, plugins::ExecutorClient& client, jobs::Store& store,
               redis::Pool& pool)
        : settings_(settings), client_(client), store_(store), pool_(pool) {}

    // not_found when there is no such job (or `jid` cannot be one).
    jobs::Job get(const std::string& jid);
    // nullopt once the record is gone (deleted or expired).
    std::optional<jobs::Job> find(const std::string& jid);
    jobs::Page list(int limit, const std::string& cursor, bool details);
    std::map<std::string, std::string> returns(const std::string& jid);
    // Events after `after_id`; with block_ms > 0 waits that long for the first.
    std::vector<jobs::Event> events(const std::string& jid, const std::string& after_id, int count,
                                    int block_ms);
    // Events of many followed jobs in one read (the follow hub of a face).
    std::vector<std::pair<std::string, std::vector<jobs::Event>>> events_of_many(
        const std::vector<std::pair<std::string, std::string>>& after, int count, int block_ms) {
        return store_.events_of_many(after, count, block_ms);
    }

    // conflict while the job has not ended.
    void remove(const std::string& jid);
    // conflict once the job has ended. A queued job ends here and now
    // (true); a running one is stopped by its worker soon (false).
    bool cancel(const jobs::Job& job);

    Health health();
    // Whether the job store answers now (PING).
    bool store_up();
    // Queue entries not yet done (waiting or running): XLEN, O(1).
    int64_t queue_depth();

private:
    const Settings& settings_;
    plugins::ExecutorClient& client_;
    jobs::Store& store_;
    redis::Pool& pool_;
};

}  // namespace exed::operate
