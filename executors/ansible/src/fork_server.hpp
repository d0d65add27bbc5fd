// A resident Python process (forkserver/exed_forkserver.py) that imports
// ansible once and forks a child per run: each ad-hoc op or playbook starts
// without paying ansible's ~0.5 s of Python start-up and imports.
//
// The child behaves like a spawned `ansible`: own process group (its pid),
// our pipes as stdout/stderr, the run's full environment and cwd. Its exit
// status comes back over the run's unix-socket connection, not waitpid (it
// is the server's child). When the server cannot be started or has died,
// start() returns null and the caller spawns the program itself; a dead
// server is restarted on a later run (at most every kRetrySeconds).
#pragma once

#include "process.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sys/types.h>

namespace exed {
class Call;
}

namespace exed::ansible {

class ForkServer {
public:
    // `script`: exed_forkserver.py; `env` overrides applied to the server
    // (they must match the runs' where ansible reads them at import time:
    // plugin paths); `cwd`: where ansible.cfg is looked up; `socket_path` in
    // a private dir.
    ForkServer(std::string script, std::map<std::string, std::string> env, std::string cwd,
               std::string socket_path);
    ~ForkServer();
    ForkServer(const ForkServer&) = delete;
    ForkServer& operator=(const ForkServer&) = delete;

    // Starts spec.argv through the server with out_w/err_w as its stdout and
    // stderr; null when the server is not available (caller spawns instead;
    // the reason is logged through `call`, once per failure).
    std::unique_ptr<Child> start(const ProcessSpec& spec, int out_w, int err_w,
                                 const exed::Call* call);

private:
    // Starts the server process if none runs (and no recent failure says
    // to wait); start() then waits for it to be ready.
    void launch();

    bool ready_locked();
    void stop_locked();
    void fail_locked(const std::string& why);  // stop, remember, log once

    std::string unlogged_;  // the failure not yet logged

    const std::string script_, cwd_, socket_path_;
    const std::map<std::string, std::string> env_;
    std::mutex mutex_;
    pid_t pid_ = 0;
    int control_fd_ = -1;  // write end of the server's stdin: closing it stops the server
    int ready_fd_ = -1;    // read end of its stdout, until "ready" was read
    bool ready_ = false;
    int64_t failed_at_ = 0;  // steady seconds of the last failure; no retry before kRetrySeconds
};

// The interpreter line of `program` found in PATH ("#!/usr/bin/python3" ->
// {"/usr/bin/python3"}; "#!/usr/bin/env python3" -> {"/usr/bin/env",
// "python3"}), empty when it has none: the server must run the Python that
// `ansible` itself runs with.
std::vector<std::string> interpreter_of(const std::string& program);

}  // namespace exed::ansible
