// The run_dir record of running jobs' process groups (runner/orphan_groups):
// what a starting exed kills of it and, above all, what it leaves alone.
#include "runner/orphan_groups.hpp"
#include "support/temp_dir.hpp"

#include <Poco/File.h>

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <string>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using exed::runner::GroupRecord;
using exed::runner::process_start;
using exed::test::TempDir;

namespace {

// `sleep <arg>` as the leader of its own process group, as plugins start commands.
pid_t spawn_group(const char* arg) {
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    char sleep[] = "sleep";
    std::string a = arg;
    char* argv[] = {sleep, a.data(), nullptr};
    pid_t pid = 0;
    REQUIRE(posix_spawnp(&pid, "sleep", nullptr, &attr, argv, environ) == 0);
    posix_spawnattr_destroy(&attr);
    return pid;
}

std::string boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    in >> id;
    return id;
}

void record(const std::string& owner_dir, pid_t pgid, uint64_t start, const std::string& jid) {
    Poco::File(owner_dir).createDirectories();
    std::ofstream(fmt::format("{}/{}-{}", owner_dir, pgid, start)) << jid;
}

// Waits for our child `pid`; the signal that ended it, 0 while it runs.
int ended_by(pid_t pid, bool wait) {
    int status = 0;
    if (waitpid(pid, &status, wait ? 0 : WNOHANG) != pid) return 0;
    return WIFSIGNALED(status) ? WTERMSIG(status) : -1;
}

}  // namespace

TEST_CASE("orphan groups: a dead exed's recorded groups are killed; a recycled number, a live exed's and another boot's are not") {
    TempDir run;
    pid_t lost = spawn_group("4242.25");      // a lost job's command
    pid_t recycled = spawn_group("4242.5");   // its number was given to another process since
    pid_t running = spawn_group("4242.75");   // a job of a live exed (this process)
    std::string boot = run.path() + "/groups/" + boot_id();
    // An owner that is gone: pid 4194999 is above Linux's highest pid_max.
    std::string dead_owner = boot + "/4194999-12345";
    record(dead_owner, lost, process_start(lost), "jid-lost");
    record(dead_owner, recycled, process_start(recycled) + 1, "jid-old");
    std::string other_boot = run.path() + "/groups/not-this-boot/4194998-1";
    record(other_boot, running, process_start(running), "jid-before-reboot");  // dropped, never killed

    GroupRecord live(run.path());
    live.add("jid-running", running);
    GroupRecord starting(run.path());  // the same process: live, its own records stay
    CHECK(starting.end_orphans() == 1);

    CHECK(ended_by(lost, true) == SIGKILL);
    CHECK(ended_by(recycled, false) == 0);
    CHECK(ended_by(running, false) == 0);
    CHECK_FALSE(Poco::File(dead_owner).exists());
    CHECK_FALSE(Poco::File(run.path() + "/groups/not-this-boot").exists());
    CHECK(Poco::File(fmt::format("{}/{}-{}", boot, getpid(), process_start(getpid()))).exists());

    // A group that ended is forgotten: nothing of it is left to kill.
    live.remove(running);
    kill(running, SIGKILL);
    kill(recycled, SIGKILL);
    ended_by(running, true);
    ended_by(recycled, true);
}
