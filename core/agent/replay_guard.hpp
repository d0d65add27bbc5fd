// The agent's replay guard, on disk so that it survives a restart: the
// nonces of the commands it accepted (until they leave the time window)
// and the run ids it started (for days: a resumed job's `start` for a run
// that already ran here must never run it again). One append-only file,
// state_dir/replay/seen.log, of fixed-size records with a CRC each.
//
// Write-ahead, grouped: remember_*() answer at once from memory and queue
// the record; commit() appends everything queued with one write and one
// fdatasync. The agent loop commits once per pass, before any accepted
// command of that pass runs, so a crash between "run" and "record" cannot
// happen, and a fan-out of 1,000 commands through one emulated-agent
// process costs a handful of fsyncs, not 1,000.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace exed::agent {

class ReplayGuard {
public:
    using Log = std::function<void(const std::string&)>;

    // Opens (creating 0700 / 0600) state_dir/replay/seen.log and loads what it holds;
    // unreadable records are skipped and said (never a crash). Throws
    // std::runtime_error when the directory or file cannot be opened.
    ReplayGuard(const std::string& state_dir, Log log);
    ~ReplayGuard();
    ReplayGuard(const ReplayGuard&) = delete;
    ReplayGuard& operator=(const ReplayGuard&) = delete;

    // True when (node, nonce) was not seen: it is then remembered until
    // `until` (unix seconds) and queued for the next commit.
    bool remember_nonce(const std::string& node, const std::string& nonce, int64_t until);
    // The same for a run id started on node.
    bool remember_run(const std::string& node, const std::string& run_id, int64_t until);

    // Makes everything remembered so far durable (one write, one fdatasync).
    // On failure the run ids of this batch are forgotten again (they will
    // not run) and `why` says what failed.
    bool commit(std::string& why);

    size_t size() const;
    uint64_t syncs() const;     // fdatasyncs done (the cost of the guard)
    uint64_t commands() const;  // records (nonces, run ids) made durable by them

    // Longest a started run id is kept: a job (and so its resume) lives
    // [runner] job_ttl, 7 days by default. At most kMaxRuns are kept, the
    // oldest leave first.
    static constexpr int64_t kRunKeepSeconds = 7 * 24 * 3600;
    static constexpr size_t kMaxRuns = 200000;

private:
    bool remember(char kind, const std::string& node, const std::string& value, int64_t until);
    void load();
    bool rewrite(std::string& why);  // compaction: only live records, via rename
    void expire(int64_t now);

    std::string dir_, path_;
    Log log_;
    int fd_ = -1;
    int lock_fd_ = -1;  // replay/lock, flock()ed while this agent runs: one agent per state_dir
    mutable std::mutex mutex_;
    std::unordered_map<std::string, int64_t> entries_;  // kind + sha256(node, value) -> until
    size_t runs_ = 0;                                   // entries of kind 'r'
    std::string queued_;                                // records not yet written
    std::vector<std::string> queued_runs_;              // their run keys (undone if the commit fails)
    uint64_t file_bytes_ = 0;
    int64_t last_expire_ = 0;
    uint64_t syncs_ = 0;
    uint64_t records_ = 0;
};

}  // namespace exed::agent
