// Shovey's status words, the only place they are spelled: the face
// (runs.hpp, service.hpp), the Shovey store's scripts (handed open_list)
// and exectl's shovey commands all read this header.
//
// Node (run) statuses: created down running succeeded failed nacked invalid
// cancelled killed. Every one but created and running is terminal.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace exed::shovey {

namespace node_status {
inline const std::string created = "created", down = "down", running = "running",
                         succeeded = "succeeded", failed = "failed", nacked = "nacked",
                         invalid = "invalid", cancelled = "cancelled", killed = "killed";
// A run not ended yet is in one of these; any other status is terminal
// (terminal() reads this list; a store script is handed it, never spells it).
inline const std::vector<std::string> open_list = {created, running};
// The terminal ones, for whoever must list them (an agent's report may end
// a run in any of these but down, which is the server's own).
inline const std::vector<std::string> final_list = {down,   succeeded, failed, nacked,
                                                    invalid, cancelled, killed};
inline bool terminal(const std::string& s) {
    return std::find(open_list.begin(), open_list.end(), s) == open_list.end();
}
// Whether `s` is a node status at all.
inline bool known(const std::string& s) {
    return !terminal(s) || std::find(final_list.begin(), final_list.end(), s) != final_list.end();
}
}  // namespace node_status

// A whole job's status.
namespace job_status {
inline const std::string submitted = "submitted", running = "running", complete = "complete",
                         cancelled = "cancelled", quorum_failed = "quorum_failed",
                         job_failed = "job_failed";
// The ones a job ends in.
inline const std::vector<std::string> final_list = {complete, cancelled, quorum_failed, job_failed};
}  // namespace job_status

}  // namespace exed::shovey
