// Which call crashed the plugin host. A crash ends every call in flight,
// but usually one call caused it (its op segfaulted) and the others were
// bystanders. The host's fatal-signal handler writes the id of the call
// its crashing thread was serving (8 bytes, one write, async-signal-safe)
// to a pipe exed gave it as fd 4, then dies of the signal as before. exed
// reads the pipe after the death: the culprit's retries are counted and
// bounded, the bystanders are simply run again (docs/architecture.md).
// No id (a plugin's own thread, SIGKILL, a stack overflow): every call in
// flight counts as a culprit, as before.
#pragma once

#include <cstdint>

namespace exed::pluginhost {

constexpr int kCrashFd = 4;

// In the host: installs the handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE
// and SIGABRT (once, before plugins load).
void install_crash_report();

// In the host: the call this thread serves while it lives.
class CallScope {
public:
    explicit CallScope(int64_t id);
    ~CallScope();
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

private:
    int64_t previous_;
};

// In exed: the culprit's id written to `fd` (the pipe's read end,
// non-blocking) by a host that has died; 0 when it wrote none.
int64_t read_culprit(int fd);

}  // namespace exed::pluginhost
