#include "pluginhost/crash_report.hpp"

#include <cstring>
#include <initializer_list>

#include <signal.h>
#include <unistd.h>

namespace exed::pluginhost {

namespace {

// Read in the signal handler: a plain thread_local of the executable
// (initial-exec TLS, no allocation on access).
thread_local int64_t current_call = 0;

void on_fatal_signal(int sig) {
    int64_t id = current_call;
    if (id != 0) {
        ssize_t ignored = ::write(kCrashFd, &id, sizeof id);  // <= PIPE_BUF: one atomic write
        (void)ignored;
    }
    // SA_RESETHAND restored the default action and SA_NODEFER leaves the
    // signal unblocked: the process dies of it, as without this handler
    // (exed logs "killed by signal 11", a core is dumped where enabled).
    raise(sig);
}

}  // namespace

void install_crash_report() {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigaction(sig, &sa, nullptr);
}

CallScope::CallScope(int64_t id) : previous_(current_call) { current_call = id; }

CallScope::~CallScope() { current_call = previous_; }

int64_t read_culprit(int fd) {
    int64_t id = 0;
    if (fd < 0) return 0;
    ssize_t n = ::read(fd, &id, sizeof id);
    return n == ssize_t(sizeof id) ? id : 0;
}

}  // namespace exed::pluginhost
