#include "pluginhost/tracked_groups.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <atomic>
#include <cstddef>

#include <signal.h>
#include <unistd.h>

namespace exed::pluginhost {

namespace {

// A fixed table of lock-free slots, since a handler may not take a mutex
// or walk a std::set another thread changes. 0 = free.
constexpr size_t kSlots = 4096;
std::atomic<pid_t> g_groups[kSlots];

extern "C" void end_groups_and_exit(int) {
    for (auto& slot : g_groups) {
        pid_t g = slot.load();
        if (g > 1) ::kill(-g, SIGKILL);  // never kill(-1): every process we may signal
    }
    _exit(128 + SIGTERM);
}

}  // namespace

void remember_group(pid_t pgid) {
    for (auto& slot : g_groups) {
        pid_t free = 0;
        if (slot.compare_exchange_strong(free, pgid)) return;
    }
    Poco::Logger::get("exed.pluginhost")
        .warning(fmt::format("plugin host: more than {} process groups; group {} would outlive a "
                             "SIGTERM of this host (exed still kills it on a crash)",
                             kSlots, pgid));
}

void forget_group(pid_t pgid) {
    for (auto& slot : g_groups) {
        pid_t found = pgid;
        if (slot.compare_exchange_strong(found, 0)) return;
    }
}

void end_groups_on_sigterm() {
    struct sigaction term {};
    term.sa_handler = end_groups_and_exit;
    sigemptyset(&term.sa_mask);
    sigaction(SIGTERM, &term, nullptr);
}

}  // namespace exed::pluginhost
