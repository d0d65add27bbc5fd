// A lost job's commands never outlive its host locks (issue 23, item 3).
// The probe's reproduction: the test executor runs `sleep` itself (its own
// process group, tracked), exed is killed with -9 under it and started
// again. On aad4ac5 the plugin host died of its SIGKILL death signal
// without ending the group, the restarted exed failed the job and freed
// node1, and the sleep ran on, adopted by init.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"
#include "support/procs.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include <dirent.h>
#include <signal.h>

using namespace exed::test;

namespace {

void pause_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string status_of(int port, const std::string& jid) {
    auto r = http("GET", port, "/jobs/" + jid);
    return r.status == 200 ? r.object()->getValue<std::string>("status") : "http " + std::to_string(r.status);
}

bool wait_processes(const std::string& cmdline, int count, int seconds) {
    for (int i = 0; i < seconds * 10 && count_processes(cmdline) != count; ++i) pause_ms(100);
    return count_processes(cmdline) == count;
}

// Whatever a failing run left behind must not outlive the test.
struct KillLeftovers {
    std::string cmdline;
    ~KillLeftovers() {
        for (pid_t p : pids_of(cmdline)) kill(p, SIGKILL);
    }
};

// Submits `cmdline` on node1 through the test executor and waits until it
// runs. It ignores SIGTERM (`exec` keeps an ignored signal ignored): a
// host that only cancels its runs when exed's socket closes does not end
// it, as the probe saw; only a SIGKILL does.
std::string start_command(ExedProcess& exed, const std::string& cmdline) {
    std::string script = exed.dir().write("stubborn.sh", "trap '' TERM\nexec " + cmdline + "\n");
    auto r = http("POST", exed.port(), "/execute", R"({"targets":["node1"],"cmd":"sh )" + script + R"("})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    REQUIRE(wait_processes(cmdline, 1, 15));
    return r.object()->getValue<std::string>("jid");
}

// After the restart: node1 stays locked (409) for as long as the lost
// job's command lives; the first job given node1 finds it gone; the lost
// job is failed, not left running.
void check_lock_outlives_command(ExedProcess& exed, const std::string& cmdline, const std::string& jid) {
    bool given = false;
    // lease = 3 s: the lost job is reclaimed and failed within a few seconds.
    for (int i = 0; i < 300 && !given; ++i) {
        auto r = http("POST", exed.port(), "/execute", R"({"targets":["node1"],"cmd":"true"})");
        if (r.status == 201) {
            given = true;
            CHECK_MESSAGE(count_processes(cmdline) == 0,
                          "node1 was given to a new job while the lost job's command still ran");
        } else {
            REQUIRE_MESSAGE(r.status == 409, r.body);
            pause_ms(100);
        }
    }
    CHECK(given);
    CHECK(status_of(exed.port(), jid) == "failed");
    CHECK(count_processes(cmdline) == 0);
}

// Every thread of `pid` is stopped (SIGSTOP takes effect per thread, a
// moment after kill() returns).
bool all_stopped(pid_t pid) {
    std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(tasks.c_str());
    if (!d) return false;
    bool stopped = true;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream in(tasks + "/" + e->d_name + "/stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto paren = stat.rfind(')');
        if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'T') stopped = false;
    }
    closedir(d);
    return stopped;
}

}  // namespace

TEST_CASE("kill -9 of exed: its plugin host ends the commands of its runs before it dies") {
    const std::string cmd = "sleep 4141.25";
    KillLeftovers leftovers{cmd};
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url()));
    exed.start();
    std::string jid = start_command(exed, cmd);
    REQUIRE(plugin_host_of(exed.pid()) > 0);
    exed.kill9();
    // Nobody restarts anything: the host's death signal (SIGTERM) ended it.
    CHECK(wait_processes(cmd, 0, 10));
    exed.start();
    check_lock_outlives_command(exed, cmd, jid);
}

TEST_CASE("isolation = in_process, kill -9 of exed: the restarted exed ends the lost job's command before node1 is free") {
    const std::string cmd = "sleep 4141.5";
    KillLeftovers leftovers{cmd};
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url(), "[plugins]\nisolation = in_process\n"));
    exed.start();
    std::string jid = start_command(exed, cmd);
    exed.kill9();
    exed.start();
    check_lock_outlives_command(exed, cmd, jid);
    CHECK(exed.log().find("killed process group") != std::string::npos);
}

TEST_CASE("kill -9 of exed and its plugin host together: the restarted exed ends the lost job's command before node1 is free") {
    const std::string cmd = "sleep 4141.75";
    KillLeftovers leftovers{cmd};
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url()));
    exed.start();
    std::string jid = start_command(exed, cmd);
    pid_t host = plugin_host_of(exed.pid());
    REQUIRE(host > 0);
    // Both at once, as a kill of the pair would (neither sees the other
    // die): exed is stopped first so that it cannot react to the host's death.
    REQUIRE(kill(exed.pid(), SIGSTOP) == 0);
    for (int i = 0; i < 100 && !all_stopped(exed.pid()); ++i) pause_ms(10);
    REQUIRE(all_stopped(exed.pid()));
    REQUIRE(kill(host, SIGKILL) == 0);
    exed.kill9();
    REQUIRE(count_processes(cmd) == 1);  // orphaned: only the next exed can end it
    exed.start();
    check_lock_outlives_command(exed, cmd, jid);
    CHECK(exed.log().find("killed process group") != std::string::npos);
}
