// One node's run of a Shovey job: its status in Shovey's terms, derived
// from the exed job that runs it (or from why none does), and its output
// as sequenced chunks.
//
// Node statuses: created down running succeeded failed nacked invalid
// cancelled killed (shovey/statuses.hpp). Every one but the open ones (created
// and running: node_status::open_list) is terminal, and a run always
// reaches one: its exed job does (cancel, run_timeout, a lost worker all
// end it), and a job that vanished counts as failed.
#pragma once

#include "shovey/jobs_adapter.hpp"
#include "shovey/statuses.hpp"
#include "jobs/shovey_store.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace exed::shovey {


struct Run {
    std::string node;
    std::string jid;      // the exed job ("" when none was started)
    std::string status;
    std::string error;
    int64_t ack_ms = 0;   // when the run started (0: never)
    int64_t end_ms = 0;   // when it ended (0: not yet)
    std::optional<int> exit_status;
    // The status, times, exit status and error are the agent's own report
    // (PUT /shovey/jobs/<id>/<node>), not derived from the exed job.
    bool reported = false;
    // Output, only where the exed job's result is read (not cached).
    std::string stdout_text, stderr_text;
    // The order the executor saw the output in: (type, bytes) slices of
    // stdout_text and stderr_text; empty when it did not say.
    std::vector<std::pair<std::string, size_t>> order;
    // Chunks the agent reported (PUT /shovey/stream), in arrival order;
    // when there are any they are the run's output, not the result's.
    std::vector<ReportedChunk> reported_chunks;

    // Cached form (without output) in the job record, and back.
    std::string to_cache_json() const;
    static Run from_cache_json(const std::string& node, const std::string& json);
};

// The run as its exed job says (nullopt: the job expired or was deleted).
Run run_from_job(const std::string& node, const std::string& jid, const std::optional<RunJob>& job);

struct Chunk {
    std::string type;   // stdout | stderr
    int64_t seq = 0;    // 1, 2, ... within its type
    int64_t both_seq = 0;  // 1, 2, ... over both types, in production order
    std::string output;
};

// The run's output as chunks in production order: the agent's reported
// chunks in arrival order (seq as the agent numbered them within a type,
// both_seq the arrival order: readers sort by the one they use), else the executor's order when it gave one, else the whole stdout
// then the whole stderr.
std::vector<Chunk> chunks_of(const Run& run);

// The run as it stands: the cached one when it ended; an agent's report
// while its exed job goes on; else what the exed job says.
Run merge_run(const Run& cached, const std::optional<RunJob>& job);

// Fills stdout_text/stderr_text from the reported chunks (seq order).
void use_reported_output(Run& run, std::vector<ReportedChunk> chunks);

// Sequence numbers missing below the highest of each type:
// [{"output_type", "from", "to"}], at most `max` ranges.
Poco::JSON::Array::Ptr output_gaps(const std::vector<ReportedChunk>& chunks, size_t max = 20);

}  // namespace exed::shovey
