#include "process.hpp"

#include "fork_server.hpp"
#include "guarded_spawn.hpp"

#include <exed/sdk.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace exed::ansible {
namespace {

constexpr size_t kStderrKeep = 256 * 1024;
constexpr int kPollMs = 200;
constexpr int kDrainSeconds = 2;

// Owns a file descriptor.
struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0) close(fd);
        fd = -1;
    }
};

std::vector<char*> c_array(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

int decode_status(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A program we spawned ourselves: our child, waited for with waitid/waitpid.
class SpawnedChild : public Child {
public:
    explicit SpawnedChild(pid_t pid) : pid_(pid) {}
    pid_t pid() const override { return pid_; }
    // WNOWAIT: the zombie keeps its process group id reserved until wait().
    bool exited() override {
        siginfo_t info{};
        info.si_pid = 0;
        if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
        return info.si_pid == pid_;
    }
    int wait() override {
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        return decode_status(status);
    }

private:
    pid_t pid_;
};

// SIGTERM to the group, SIGKILL after the grace period (and always once the
// leader is gone, for stragglers), then reap. Returns the exit code.
int kill_group(Child& child, int grace_seconds) {
    kill(-child.pid(), SIGTERM);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(grace_seconds);
    while (!child.exited() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    kill(-child.pid(), SIGKILL);
    return child.wait();
}

// Splits what arrived on stdout into lines; keeps the unfinished tail.
void feed_lines(std::string& pending, const char* data, size_t n, const LineHandler& on_line) {
    pending.append(data, n);
    size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
        on_line(pending.substr(start, nl - start));
        start = nl + 1;
    }
    pending.erase(0, start);
}

enum class Stop { None, Cancelled, Timeout, Overdue };

using SteadyTime = std::chrono::steady_clock::time_point;

// `overdue_at`: the spec's own timeout (zero time point: none).
Stop should_stop(const exed::Call* call, SteadyTime overdue_at) {
    if (overdue_at != SteadyTime{} && std::chrono::steady_clock::now() >= overdue_at)
        return Stop::Overdue;
    if (!call) return Stop::None;
    int64_t deadline = call->deadline();
    if (deadline > 0 && std::time(nullptr) >= deadline) return Stop::Timeout;
    if (call->cancelled()) return Stop::Cancelled;
    return Stop::None;
}

}  // namespace

std::vector<std::string> merged_env(const std::map<std::string, std::string>& overrides) {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) {
        std::string entry(*e);
        auto eq = entry.find('=');
        if (eq != std::string::npos && overrides.count(entry.substr(0, eq))) continue;
        out.push_back(std::move(entry));
    }
    for (auto& [k, v] : overrides) out.push_back(k + "=" + v);
    return out;
}

pid_t spawn_leader(const std::vector<std::string>& argv_in,
                   const std::map<std::string, std::string>& env_overrides,
                   const std::string& cwd, int in_fd, int out_fd, int err_fd) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_fd < 0)
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    else
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    // Nothing but 0-2 reaches the child: exed's sockets (clients, Redis)
    // must not live on in ansible or the fork server.
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Own process group (cancel kills the whole tree); default signal
    // dispositions and an empty mask whatever the daemon uses.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2})
        sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    std::vector<std::string> args = argv_in, env = merged_env(env_overrides);
    auto argv = c_array(args), envp = c_array(env);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        throw exed::Error(fmt::format("cannot start {}: {}", argv_in[0], std::strerror(rc)));
    return pid;
}

ProcessResult run_process(const ProcessSpec& spec, const exed::Call* call,
                          const LineHandler& on_line) {
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) throw exed::Error("pipe failed");
    Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (pipe2(err_pipe, O_CLOEXEC) != 0) throw exed::Error("pipe failed");
    Fd err_r(err_pipe[0]), err_w(err_pipe[1]);

    std::unique_ptr<Child> child;
    if (spec.server) child = spec.server->start(spec, out_w.fd, err_w.fd, call);
    if (!child)
        child = std::make_unique<SpawnedChild>(
            spawn_guarded(spec.argv, spec.env, spec.cwd, -1, out_w.fd, err_w.fd));
    const pid_t pid = child->pid();
    if (call) call->track_process(pid);
    out_w.reset();
    err_w.reset();

    ProcessResult result;
    std::string pending;
    Stop stop = Stop::None;
    const SteadyTime overdue_at =
        spec.timeout > 0 ? std::chrono::steady_clock::now() + std::chrono::seconds(spec.timeout)
                         : SteadyTime{};
    char buf[65536];
    std::chrono::steady_clock::time_point leader_gone{};
    try {
        while ((out_r.fd >= 0 || err_r.fd >= 0) && stop == Stop::None) {
            pollfd fds[2] = {{out_r.fd, POLLIN, 0}, {err_r.fd, POLLIN, 0}};
            int n = poll(fds, 2, kPollMs);
            if (n < 0 && errno != EINTR) break;
            if (n == 0 && child->exited()) {
                // The program is gone but something it left behind still
                // holds our pipes: read what is there, then stop waiting.
                auto now = std::chrono::steady_clock::now();
                if (leader_gone == std::chrono::steady_clock::time_point{}) leader_gone = now;
                if (now - leader_gone > std::chrono::seconds(kDrainSeconds)) break;
            }
            for (int i = 0; i < 2 && n > 0; ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                Fd& fd = i == 0 ? out_r : err_r;
                ssize_t got = read(fd.fd, buf, sizeof buf);
                if (got <= 0) {
                    if (got < 0 && errno == EINTR) continue;
                    fd.reset();
                } else if (i == 0) {
                    feed_lines(pending, buf, size_t(got), on_line);
                } else {
                    result.stderr_text.append(buf, size_t(got));
                    if (result.stderr_text.size() > kStderrKeep)
                        result.stderr_text.erase(0, result.stderr_text.size() - kStderrKeep);
                }
            }
            stop = should_stop(call, overdue_at);
        }
        // Output closed: wait for the exit, still watching cancel/deadline.
        while (stop == Stop::None && !child->exited()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            stop = should_stop(call, overdue_at);
        }
    } catch (...) {
        kill_group(*child, 0);  // on_line threw: leave nothing running
        if (call) call->untrack_process(pid);
        throw;
    }
    const int code = stop != Stop::None ? kill_group(*child, spec.kill_grace) : child->wait();
    if (call) call->untrack_process(pid);
    if (stop == Stop::Timeout)
        throw exed::Error(fmt::format("run_timeout reached: {} was killed", spec.argv[0]));
    if (stop == Stop::Cancelled) throw exed::Cancelled();
    if (stop == Stop::Overdue)
        throw exed::Error(fmt::format("{} did not finish within {} s and was killed",
                                      spec.argv[0], spec.timeout));
    if (!pending.empty()) on_line(pending);
    result.exit_code = code;
    return result;
}

}  // namespace exed::ansible
