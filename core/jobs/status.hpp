// A job's status words and EXEd's state numbers, the only place they are
// spelled: the daemon (jobs/model.hpp), the store's Lua (a prologue made
// from these, jobs/script.hpp) and exectl all read this header.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace exed::jobs {

// EXEd's numbers: queued and running are Running; done is Done; failed and
// cancelled are Failure (a cancelled job's error is "cancelled").
enum JobState { Done = 0, Running = 1, Failure = 2 };

namespace status {
inline const std::string queued = "queued", running = "running", done = "done",
                         failed = "failed", cancelled = "cancelled";
// The final statuses: the only list of them (the store's scripts get it
// from here).
inline const std::vector<std::string> final_list = {done, failed, cancelled};
inline bool terminal(const std::string& s) {
    return std::find(final_list.begin(), final_list.end(), s) != final_list.end();
}
}  // namespace status

// EXEd's number for a status.
inline JobState state_of(const std::string& s) {
    if (s == status::done) return Done;
    return status::terminal(s) ? Failure : Running;
}

}  // namespace exed::jobs
