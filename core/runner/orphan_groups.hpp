// The process groups running jobs' plugins started, recorded in run_dir so
// that a job's commands never outlive its host locks (issue 23, item 3).
//
// When exed is killed together with the process its plugins run in (its
// plugin host, or exed itself with isolation = in_process), nobody is left
// to end those commands: their parent is gone and init adopts them. The
// record survives: the next exed that starts on this machine with the same
// run_dir, and any worker sharing it before it fails a lost job, kills the
// recorded groups of exed processes that are gone.
//
// Layout: <run_dir>/groups/<boot id>/<owner pid>-<owner start>/<pgid>-<start>,
// the file holding the job id. Start times (/proc/<pid>/stat, clock ticks
// since boot) tell a live owner from a recycled pid, and a recorded group
// from an unrelated process that got its number since; the boot id makes
// start times comparable (a reboot ended every process anyway). A file per
// group: recording one is a create, forgetting it an unlink, no rewrite. No
// fsync: only a machine crash loses the page cache, and it ends the
// processes too.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <sys/types.h>

namespace exed::runner {

// The start time of process `pid` in clock ticks since boot; 0 when there
// is no such process.
uint64_t process_start(pid_t pid);

class GroupRecord {
public:
    // `run_dir` empty: records nothing (tests that run no real commands).
    explicit GroupRecord(const std::string& run_dir);
    ~GroupRecord();  // forgets this process's directory when it is empty

    // The job `jid` started process group `pgid` (its leader's pid).
    void add(const std::string& jid, pid_t pgid);
    // It ended (or was killed and reaped).
    void remove(pid_t pgid);

    // Kills (SIGKILL) the recorded groups of exed processes that are gone,
    // verified by their leaders' start times, waits (up to 2 s) until they
    // are, and drops their records. Returns how many groups it killed.
    int end_orphans();

private:
    std::string base_;  // <run_dir>/groups
    std::string boot_;  // <base_>/<boot id>
    std::string own_;   // <boot_>/<pid>-<start> of this process
    std::mutex mutex_;
    bool made_ = false;
    std::map<pid_t, std::string> files_;  // recorded here: pgid -> file
};

}  // namespace exed::runner
