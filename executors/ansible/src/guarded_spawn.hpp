// Starts a program so that its whole process group dies with exed, even
// when exed is killed with SIGKILL and can clean nothing up.
//
// The group leader is a guard: a fork of exed that runs no code of exed's
// (only system calls) and is the program's parent. It asks the kernel for a
// signal when exed dies (PR_SET_PDEATHSIG) and then SIGKILLs its own group:
// the program, everything it forked that stayed in the group (ansible's
// workers, their ssh clients and local modules). Otherwise it waits for the
// program and exits with its status (128 + signal when killed), ignoring the
// SIGTERM exed sends the group on cancel, so the program gets its grace.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <sys/types.h>

namespace exed::ansible {

// Like spawn_leader (argv[0] looked up in PATH, never a shell; default
// signal dispositions and an empty mask; `env_overrides` on top of the
// daemon's environment; `cwd` empty: inherit; in_fd < 0: /dev/null; err_fd
// < 0: the daemon's stderr), but the returned pid is the guard's, leader of
// the new process group. Throws exed::Error when the program cannot start.
// The calling thread must outlive the guard (it waits for it): the kernel
// sends the death signal when the thread that forked ends.
pid_t spawn_guarded(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env_overrides,
                    const std::string& cwd, int in_fd, int out_fd, int err_fd);

}  // namespace exed::ansible
