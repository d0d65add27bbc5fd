#include "agent/child_process.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace exed::agent {

namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
    int fd[2] = {-1, -1};
    Pipe() {
        if (pipe2(fd, O_CLOEXEC) != 0) fd[0] = fd[1] = -1;
    }
    ~Pipe() {
        for (int f : fd)
            if (f >= 0) close(f);
    }
};

// Starts argv in a group of its own with its stdout and stderr on the
// pipes' write ends, which are closed here (the child holds them now).
// posix_spawnp's error number; 0 when it started.
int spawn_child(const std::vector<std::string>& argv, Pipe& o, Pipe& e, pid_t& pid) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, o.fd[1], 1);
    posix_spawn_file_actions_adddup2(&actions, e.fd[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // the agent's sockets stay with it
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group: cancel kills everything it started
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(o.fd[1]);
    close(e.fd[1]);
    o.fd[1] = e.fd[1] = -1;
    return rc;
}

// Cancel or timeout: SIGTERM to the group once, SIGKILL kill_grace_s later.
struct Stopper {
    pid_t pid;
    int timeout_s;
    double kill_grace_s;
    Clock::time_point started = Clock::now();
    Clock::time_point term_sent{};

    void check(const std::atomic<bool>& cancel, std::string& end_reason) {
        if (end_reason.empty()) {
            if (cancel) end_reason = "cancelled";
            else if (timeout_s > 0 && Clock::now() - started > std::chrono::seconds(timeout_s))
                end_reason = "timeout";
            if (!end_reason.empty()) {
                kill(-pid, SIGTERM);
                term_sent = Clock::now();
            }
        } else if (term_sent != Clock::time_point{} &&
                   Clock::now() - term_sent > std::chrono::duration<double>(kill_grace_s)) {
            kill(-pid, SIGKILL);
            term_sent = Clock::time_point{};
        }
    }
};

// The leader is gone, but what it wrote last may still sit in the pipes
// (up to 64 KiB each): deliver it. Only what is already there: a process
// it left behind may hold the pipe open for ever.
void deliver_rest(int fd, bool open, const char* stream, const ChunkSink& sink) {
    char buf[16384];
    while (open) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) break;
        ssize_t got = read(fd, buf, sizeof buf);
        if (got > 0) sink(stream, std::string(buf, size_t(got)));
        else if (got == 0 || errno != EINTR) open = false;
    }
}

}  // namespace

ChildOutcome run_child(const std::vector<std::string>& argv, int timeout_s, double kill_grace_s,
                       const std::atomic<bool>& cancel, const ChunkSink& sink) {
    ChildOutcome out;
    Pipe o, e;
    if (o.fd[0] < 0 || e.fd[0] < 0) {
        out.end_reason = "spawn failed: no pipe";
        return out;
    }
    pid_t pid = 0;
    if (int rc = spawn_child(argv, o, e, pid); rc != 0) {
        out.end_reason = std::string("spawn failed: ") + std::strerror(rc);
        out.exit_code = 127;
        return out;
    }
    Stopper stopper{pid, timeout_s, kill_grace_s};
    bool open_o = true, open_e = true;
    char buf[16384];
    int status = 0;
    bool reaped = false;
    while (!reaped) {
        stopper.check(cancel, out.end_reason);
        pollfd fds[2];
        int n = 0;
        if (open_o) fds[n++] = {o.fd[0], POLLIN, 0};
        if (open_e) fds[n++] = {e.fd[0], POLLIN, 0};
        if (n > 0) {
            poll(fds, nfds_t(n), 100);
            for (int i = 0; i < n; ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                ssize_t got = read(fds[i].fd, buf, sizeof buf);
                bool is_out = fds[i].fd == o.fd[0];
                if (got > 0) sink(is_out ? "stdout" : "stderr", std::string(buf, size_t(got)));
                else if (got == 0 || errno != EINTR) (is_out ? open_o : open_e) = false;
            }
        }
        pid_t w = waitpid(pid, &status, WNOHANG);  // never block: cancel must stay heard
        if (w == pid) reaped = true;
        else if (w < 0 && errno != EINTR) break;
        else if (!open_o && !open_e && w == 0) usleep(2000);  // output closed, exit is near
    }
    deliver_rest(o.fd[0], open_o, "stdout", sink);
    deliver_rest(e.fd[0], open_e, "stderr", sink);
    // Whatever the leader left behind in its group goes too.
    if (!out.end_reason.empty()) kill(-pid, SIGKILL);
    if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) out.exit_code = 128 + WTERMSIG(status);
    return out;
}

}  // namespace exed::agent
