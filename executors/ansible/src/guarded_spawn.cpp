#include "guarded_spawn.hpp"

#include "process.hpp"

#include <exed/sdk.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace exed::ansible {
namespace {

// The signal the kernel sends the guard when exed dies. Any catchable one
// exed's group kill never uses.
constexpr int kParentDied = SIGUSR1;
// Where the guard keeps the pipe that reports a failed exec to exed.
constexpr int kErrorFd = 3;

void wake(int) {}  // the guard's loop re-checks everything when woken

// argv[0] as posix_spawnp finds it: through the daemon's PATH unless it
// holds a '/'. Empty when there is no such executable file.
std::string find_program(const std::string& name) {
    auto executable = [](const std::string& p) {
        struct stat st{};
        return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
    };
    if (name.find('/') != std::string::npos) return executable(name) ? name : std::string();
    const char* path = getenv("PATH");
    std::istringstream dirs(path && *path ? path : "/bin:/usr/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        std::string file = (dir.empty() ? "." : dir) + "/" + name;
        if (executable(file)) return file;
    }
    return {};
}

// What the forked processes use: built before fork, since after fork (in
// a multithreaded daemon) only async-signal-safe calls are allowed.
struct Prepared {
    std::string path;
    std::vector<std::string> args, env;
    std::vector<char*> argv, envp;
    std::string cwd;
    int in_fd, out_fd, err_fd, error_w;
    pid_t daemon;
};

void set_all_default(const sigset_t& mask) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) sigaction(s, &dfl, nullptr);  // fails harmlessly for KILL/STOP
    sigprocmask(SIG_SETMASK, &mask, nullptr);
}

// The program's process, forked by the guard. Never returns.
[[noreturn]] void exec_program(const Prepared& p) {
    sigset_t none;
    sigemptyset(&none);
    set_all_default(none);
    if (!p.cwd.empty() && chdir(p.cwd.c_str()) != 0) {
        int e = errno;
        (void)!write(kErrorFd, &e, sizeof e);
        _exit(127);
    }
    execve(p.path.c_str(), p.argv.data(), p.envp.data());
    int e = errno;
    (void)!write(kErrorFd, &e, sizeof e);
    _exit(127);
}

// The guard, in the child of fork. Never returns.
[[noreturn]] void guard(const Prepared& p) {
    setpgid(0, 0);  // exed does it too: whichever runs first
    sigset_t all;
    sigfillset(&all);
    set_all_default(all);  // everything blocked: exed's group SIGTERM stays pending
    struct sigaction on{};
    on.sa_handler = wake;
    sigaction(SIGCHLD, &on, nullptr);
    sigaction(kParentDied, &on, nullptr);
    prctl(PR_SET_PDEATHSIG, kParentDied);

    // The program's stdio on 0-2, the exec-error pipe on 3, nothing else
    // of exed's: the guard must hold no socket, pipe or lock file of it.
    // First out of the way (exed may run with a standard fd closed, so a
    // pipe of it can be 0-3), then into place.
    int in = fcntl(p.in_fd, F_DUPFD, 10), out = fcntl(p.out_fd, F_DUPFD, 10);
    int err = p.err_fd >= 0 ? fcntl(p.err_fd, F_DUPFD, 10) : -1;
    int error_w = fcntl(p.error_w, F_DUPFD, 10);
    dup2(in, 0);
    dup2(out, 1);
    if (err >= 0) dup2(err, 2);
    dup2(error_w, kErrorFd);
    fcntl(kErrorFd, F_SETFD, FD_CLOEXEC);
    close_range(kErrorFd + 1, ~0U, 0);

    pid_t program = fork();
    if (program == 0) exec_program(p);
    close(kErrorFd);
    int null = open("/dev/null", O_RDWR);  // the run's pipes are the program's only
    for (int fd = 0; fd <= 2 && null >= 0; ++fd) dup2(null, fd);
    if (program < 0) _exit(127);

    sigset_t waiting;  // what wakes sigsuspend: the program ended, exed died
    sigfillset(&waiting);
    sigdelset(&waiting, SIGCHLD);
    sigdelset(&waiting, kParentDied);
    for (;;) {
        int status = 0;
        if (waitpid(program, &status, WNOHANG) == program)
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        // exed is gone (also when it died before prctl): end the group, us too.
        if (getppid() != p.daemon) kill(0, SIGKILL);
        sigsuspend(&waiting);
    }
}

}  // namespace

pid_t spawn_guarded(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env_overrides,
                    const std::string& cwd, int in_fd, int out_fd, int err_fd) {
    Prepared p;
    p.path = find_program(argv.at(0));
    if (p.path.empty())
        throw exed::Error(fmt::format("cannot start {}: {}", argv[0], std::strerror(ENOENT)));
    p.args = argv;
    p.env = merged_env(env_overrides);
    for (auto& a : p.args) p.argv.push_back(a.data());
    p.argv.push_back(nullptr);
    for (auto& e : p.env) p.envp.push_back(e.data());
    p.envp.push_back(nullptr);
    p.cwd = cwd;
    p.daemon = getpid();
    int null = in_fd < 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
    p.in_fd = in_fd < 0 ? null : in_fd;
    p.out_fd = out_fd;
    p.err_fd = err_fd;
    int error_pipe[2];
    if (p.in_fd < 0 || pipe2(error_pipe, O_CLOEXEC) != 0) {
        if (null >= 0) close(null);
        throw exed::Error(fmt::format("cannot start {}: {}", argv[0], std::strerror(errno)));
    }
    p.error_w = error_pipe[1];

    // No handler of exed's may run in the child before it resets them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) guard(p);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    close(error_pipe[1]);
    if (null >= 0) close(null);
    if (pid < 0) {
        close(error_pipe[0]);
        throw exed::Error(fmt::format("cannot start {}: {}", argv[0], std::strerror(fork_errno)));
    }
    setpgid(pid, pid);  // before exed hears the pid: it may signal -pid at once

    // EOF: the program was exec'd. An errno: it was not; the guard exits 127.
    int child_errno = 0;
    ssize_t got;
    while ((got = read(error_pipe[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
    }
    close(error_pipe[0]);
    if (got == ssize_t(sizeof child_errno)) {
        while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        throw exed::Error(fmt::format("cannot start {}: {}", argv[0], std::strerror(child_errno)));
    }
    return pid;
}

}  // namespace exed::ansible
