// Per-host operate locks: all hosts of a job or none, leased, renewed while
// the job runs, released by compare-and-delete (never someone else's).
#pragma once

#include "redis/pool.hpp"

#include <map>
#include <string>
#include <vector>

namespace exed::jobs {

class Script;

namespace lua {
// Defines `take_locks(first, jid, lease_ms)`: takes the locks KEYS[first..]
// for `jid` (kept if `jid` holds them already), all or none; returns the
// busy ones' positions counted from `first` (1-based), empty when taken.
// Shared by Locks::acquire and the worker's claim script (store.cpp).
extern const char* const take_locks;
}  // namespace lua

class Locks {
public:
    explicit Locks(redis::Pool& pool) : pool_(pool) {}

    // Takes every host's lock for `jid` (or keeps it if `jid` holds it
    // already). Returns the busy hosts; empty means all were taken.
    std::vector<std::string> acquire(const std::vector<std::string>& hosts, const std::string& jid,
                                     int lease_ms);
    // Extends the leases `jid` still holds; returns hosts it no longer holds.
    std::vector<std::string> renew(const std::vector<std::string>& hosts, const std::string& jid,
                                   int lease_ms);
    // For each job (jid -> its hosts) that is still queued, extends the
    // leases it still holds, in one atomic step per call; returns the jobs
    // that are no longer queued (ended, running or gone). The caller keeps
    // `jobs` small (a batch): the script holds Redis while it runs.
    std::vector<std::string> renew_queued(const std::map<std::string, std::vector<std::string>>& jobs,
                                          int lease_ms);
    // Frees the hosts `jid` holds.
    void release(const std::vector<std::string>& hosts, const std::string& jid);
    // Who holds host's lock ("" when free).
    std::string holder(const std::string& host);

private:
    std::vector<std::string> run(const Script& script, const std::vector<std::string>& hosts,
                                 const std::string& jid, int lease_ms);
    redis::Pool& pool_;
};

}  // namespace exed::jobs
