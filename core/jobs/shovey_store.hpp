// The Shovey face's own Redis data, in the jobs layer beside the job store
// (the face above it never touches Redis): job documents kept like exed's
// job records (jobs/record_index: a record, a numbered index, the listing
// that drops expired records), node status with a bounded history, and the
// lease that keeps node checks one at a time across every exed process
// sharing the Redis. The per-node runs themselves are exed jobs; a document
// only names them. Keys: jobs/keys.hpp (docs/architecture.md). The types
// keep the face's namespace: they are the words core/shovey speaks.
#pragma once

#include "jobs/record_index.hpp"
#include "redis/pool.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace exed::shovey {

// A Shovey job as stored. `runs` holds one JSON object per node (see
// shovey/runs.hpp): the exed job that runs there, or why none does, and
// the run's final document once it ended.
struct JobRecord {
    std::string id;
    std::string command;
    int run_timeout = 0;
    std::string quorum;
    int64_t created_ms = 0;
    int64_t updated_ms = 0;
    std::string status;  // set only when no run decides it: quorum_failed, job_failed
    std::string error;
    std::vector<std::string> nodes;             // as asked, in order
    std::map<std::string, std::string> runs;    // node -> JSON
};

struct NodeStatus {
    std::string node;
    std::string status;  // up | down
    int64_t updated_ms = 0;
};

// One chunk of output an agent reported for a run.
struct ReportedChunk {
    std::string type;  // stdout | stderr
    int64_t seq = 0;   // the agent's sequence number within its type
    std::string output;
};

// What adding a reported chunk did.
enum class ChunkResult { added, duplicate, gone, finished, after_last, full };

struct IdPage {
    std::vector<std::string> ids;
    std::string next_cursor;  // empty on the last page
};

class Store {
public:
    // open_run_statuses: the run statuses that are not final (the face's
    // node_status::open_list); the scripts get them as arguments, so that
    // the list is written once, in the face.
    Store(redis::Pool& pool, std::vector<std::string> open_run_statuses);

    // Writes the record (it expires after ttl_s), then indexes it.
    void create(const JobRecord& job, int ttl_s);
    std::optional<JobRecord> get(const std::string& id);
    // One node's run JSON (and updated_ms) of an existing record, unless
    // the run recorded there already ended: the first end wins (an agent's
    // report and the exed job's outcome may race). False when not written.
    bool set_run(const std::string& id, const std::string& node, const std::string& run_json,
                 int64_t updated_ms);

    // Appends a chunk an agent reported for a run, atomically with its
    // checks: the record exists, the run has not ended, (type, seq) is new,
    // no seq past the type's is_last, at most max_chunks / max_bytes per run.
    ChunkResult add_chunk(const std::string& id, const std::string& node, const ReportedChunk& chunk,
                          bool is_last, int max_chunks, int64_t max_bytes);
    // The run's reported chunks in arrival order (empty: none reported).
    std::vector<ReportedChunk> chunks(const std::string& id, const std::string& node);
    void set_updated(const std::string& id, int64_t updated_ms);
    void expire(const std::string& id, int ttl_s);
    // Newest first; entries whose record expired are dropped on the way.
    IdPage list(int limit, const std::string& cursor);

    // Records one check of `node`, atomically: up when it answered; after
    // a miss, up still while it was up and has missed fewer than
    // down_after checks in a row, down otherwise. Appends to its history
    // (newest first, at most history_max). Returns the status recorded.
    std::string record_check(const std::string& node, bool answered, int down_after,
                             int64_t now_ms, int history_max);
    std::optional<NodeStatus> node_status(const std::string& node);
    std::vector<NodeStatus> all_nodes();
    // Names of the nodes with a status (one SMEMBERS).
    std::vector<std::string> node_names();
    // How many nodes are in each latest status, kept by record_check as
    // statuses change: one HGETALL, no scan (for /metrics).
    std::map<std::string, int64_t> node_counts();
    std::vector<NodeStatus> history(const std::string& node, int limit);

    // The check lease: at most one holder at a time. end_check keeps the
    // key `keep_ms` longer (so the next check waits for its interval), or
    // deletes it when keep_ms <= 0; only the holder's token can.
    bool take_check(const std::string& token, int64_t lease_ms);
    void end_check(const std::string& token, int64_t keep_ms);

private:
    std::vector<std::string> with_open_statuses(std::vector<std::string> args) const;

    redis::Pool& pool_;
    std::vector<std::string> open_;
    jobs::RecordIndex index_;
};

}  // namespace exed::shovey
