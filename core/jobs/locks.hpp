// Per-host operate locks: all hosts of a job or none, leased, renewed while
// the job runs, released by compare-and-delete (never someone else's).
//
// Every lock lives in one hash (keys::locks, one cluster slot, so one
// script can take a whole job's hosts atomically): field = host, value =
// "<jid> <expiry epoch ms>", the time being Redis's own (TIME), so no two
// machines' clocks are compared. A field whose expiry passed is free: it
// is overwritten or deleted when next touched.
#pragma once

#include "jobs/script.hpp"
#include "redis/pool.hpp"

#include <map>
#include <string>
#include <vector>

namespace exed::jobs {

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
    // leases it still holds; returns the jobs that are no longer queued
    // (ended, running or gone). Two round trips per call: the statuses
    // (pipelined, one per job slot), then one renew of the locks of the
    // jobs still queued. A job claimed in between gets its leases extended
    // once more: harmless, its worker renews them anyway.
    std::vector<std::string> renew_queued(const std::map<std::string, std::vector<std::string>>& jobs,
                                          int lease_ms);
    // Frees the hosts `jid` holds.
    void release(const std::vector<std::string>& hosts, const std::string& jid);
    // Who holds host's lock ("" when free or expired).
    std::string holder(const std::string& host);

    // The same steps for a pipeline (jobs/store.cpp's claim and settle).
    // take: its reply is read by taken_of.
    static void take(Steps& steps, const std::vector<std::string>& hosts, const std::string& jid,
                     int lease_ms);
    static void release(Steps& steps, const std::vector<std::string>& hosts, const std::string& jid);
    struct Take {
        std::vector<std::string> busy;   // held by another job: nothing was taken
        std::vector<std::string> fresh;  // were free before this take (the rest `jid` held already)
    };
    static Take taken_of(const redis::Reply& r, const std::vector<std::string>& hosts);

private:
    redis::Pool& pool_;
};

}  // namespace exed::jobs
