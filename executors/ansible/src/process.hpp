// Runs one program (ansible, ansible-playbook, ansible-inventory) the safe
// way: argv array (never a shell), in a process group of its own that dies
// with exed (spawn_guarded, or the fork server), stdout read line by line as
// it arrives, stderr collected. The group is registered with the host
// (track_process) so the daemon can kill it too; the loop itself kills it on
// cancel or when the deadline passes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace exed {
class Call;
}

namespace exed::ansible {

class ForkServer;

struct ProcessSpec {
    std::vector<std::string> argv;             // argv[0] is looked up in PATH
    std::map<std::string, std::string> env;    // set on top of the daemon's environment
    std::string cwd;                           // empty: inherit
    int kill_grace = 3;                        // seconds from SIGTERM to SIGKILL
    int timeout = 0;                           // seconds it may run, call or not; 0: no limit
    ForkServer* server = nullptr;              // start it through this when it is up
};

// A started program, leader of its own process group (pgid == pid).
class Child {
public:
    virtual ~Child() = default;
    virtual pid_t pid() const = 0;
    // True once it has ended. Until wait() the group id stays reserved
    // (zombie), so signalling -pid cannot hit a stranger.
    virtual bool exited() = 0;
    // Blocks until it ends; its exit code, 128 + signal when killed.
    virtual int wait() = 0;
};

// The daemon's environment with `overrides` set on top, as "K=V" strings.
std::vector<std::string> merged_env(const std::map<std::string, std::string>& overrides);

// posix_spawnp of argv (never a shell) as the leader of a new process group,
// with default signal dispositions, an empty signal mask, `env_overrides` on
// top of the daemon's environment and `cwd` (empty: inherit). in_fd < 0:
// /dev/null; err_fd < 0: the daemon's stderr. Throws exed::Error.
pid_t spawn_leader(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env_overrides,
                   const std::string& cwd, int in_fd, int out_fd, int err_fd);

struct ProcessResult {
    int exit_code = 0;    // 128+signal when killed by a signal
    std::string stderr_text;  // the last 256 KiB at most
};

using LineHandler = std::function<void(const std::string& line)>;

// Runs the process to completion, calling on_line for each stdout line (the
// "\n" removed). With a call: tracks the group, polls call->cancelled() and
// call->deadline() every 200 ms and on either kills the group (SIGTERM, then
// SIGKILL after kill_grace) and throws exed::Cancelled or an exed::Error
// naming the run_timeout. Without a call (init) only spec.timeout applies;
// past it (with or without a call) the group is killed the same way and an
// exed::Error says "<program> did not finish within N s".
// Throws exed::Error when the program cannot be started.
ProcessResult run_process(const ProcessSpec& spec, const exed::Call* call,
                          const LineHandler& on_line);

}  // namespace exed::ansible
