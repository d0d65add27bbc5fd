// No process of a job may outlive it (issue 12 §1-2): a real exed with the
// ansible executor runs `execute` on `localhost` (ansible_connection=local)
// and on an ssh test host, with and without the fork server; then cancel,
// run_timeout, or a kill -9 of exed. Each command carries a unique marker
// argument (`sleep 100.<n>`) so /proc shows whether it still runs; the ssh
// host shares this machine's process table (it only has its own mounts).
#include "support/fixtures.hpp"
#include "support/http_client.hpp"
#include "support/ssh_hosts.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

using namespace exed::test;

namespace {

constexpr int kCancelGrace = 2;  // [runner] cancel_grace of these daemons

SshHosts& one_host() {
    static SshHosts hosts([] {
        SshHostsOptions o;
        o.count = 1;
        return o;
    }());
    return hosts;
}

// The ssh host's inventory plus the `make run` localhost. Its python is
// pinned: discovery on this machine may find a pyenv shim in PATH that costs
// seconds per start under load, which says nothing about cleanup.
std::string mixed_inventory() {
    SshHosts& h = one_host();
    std::string path = h.dir() + "/mixed.ini";
    std::ifstream in(h.inventory_path());
    std::string ssh_part((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(path) << "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
                        << ssh_part;
    return path;
}

std::string daemon_config(const SharedRedis& redis, bool fork_server,
                          const std::string& ansible_extra = "") {
    SshHosts& h = one_host();
    return test_config(redis.url(),
                       "[runner]\nexecutor = ansible\ncancel_grace = " +
                           std::to_string(kCancelGrace) +
                           "\n[ansible]\ninventory = " + mixed_inventory() +
                           "\nsshkey = " + h.key_path() + "\nknown_hosts = " +
                           h.known_hosts_path() + "\ntimeout = 5\nrun_dir = @DIR@/ansible\n" +
                           "fork_server = " + (fork_server ? "true" : "false") + "\n" +
                           ansible_extra,
                       EXED_BUILD_DIR "/plugins");
}

// `sleep 100.<unique>`: a command line no other process of the machine has.
std::string marked_sleep(int seconds) {
    static int n = 0;
    return "sleep " + std::to_string(seconds) + "." + std::to_string(getpid() % 10000) +
           std::to_string(100 + ++n);
}

// Processes whose argv, joined by spaces, is `cmdline` (pgrep -f -x). A
// process that ends while we look simply does not count.
int count_processes(const std::string& cmdline) {
    int n = 0;
    DIR* proc = opendir("/proc");
    if (!proc) return -1;
    while (dirent* e = readdir(proc)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        int fd = open((std::string("/proc/") + e->d_name + "/cmdline").c_str(), O_RDONLY);
        if (fd < 0) continue;
        std::string all;
        char buf[4096];
        ssize_t got;
        while ((got = read(fd, buf, sizeof buf)) > 0) all.append(buf, size_t(got));
        close(fd);
        if (!all.empty() && all.back() == '\0') all.pop_back();
        for (auto& c : all)
            if (c == '\0') c = ' ';
        if (all == cmdline) ++n;
    }
    closedir(proc);
    return n;
}

bool wait_for(const std::function<bool()>& cond, int seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < until) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return cond();
}

std::string status_of(int port, const std::string& jid) {
    auto r = http("GET", port, "/jobs/" + jid);
    return r.status == 200 ? r.object()->getValue<std::string>("status")
                           : "http " + std::to_string(r.status);
}

bool ended(const std::string& status) {
    return status == "done" || status == "failed" || status == "cancelled";
}

std::string wait_end(int port, const std::string& jid, int seconds) {
    std::string st;
    wait_for([&] { return ended(st = status_of(port, jid)); }, seconds);
    return st;
}

std::string submit_execute(int port, const std::string& host, const std::string& cmd,
                           int run_timeout = 0) {
    std::string body = R"({"targets":[")" + host + R"("],"cmd":")" + cmd + "\"";
    if (run_timeout > 0) body += R"(,"run_timeout":)" + std::to_string(run_timeout);
    auto r = http("POST", port, "/execute", body + "}");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return r.object()->getValue<std::string>("jid");
}

// Kills what a failing test left, so it outlives no test.
void kill_leftovers(const std::string& cmdline) {
    if (count_processes(cmdline) > 0) run_command({"pkill", "-KILL", "-f", "-x", cmdline});
}

struct Run {
    std::string host, cmd, jid;
};

// Starts `execute` of a marked sleep on each host and waits until every
// command runs (the sleep exists).
std::vector<Run> start_sleeps(int port, int run_timeout = 0) {
    std::vector<Run> runs;
    for (std::string host : {"localhost", "node1"}) {
        std::string cmd = marked_sleep(100);
        runs.push_back({host, cmd, submit_execute(port, host, cmd, run_timeout)});
    }
    for (auto& r : runs)
        REQUIRE_MESSAGE(wait_for([&] { return count_processes(r.cmd) == 1; }, 60),
                        r.host << ": `" << r.cmd << "` never started: "
                               << http("GET", port, "/jobs/" + r.jid).body);
    return runs;
}

void cancel_leaves_nothing(bool fork_server) {
    SharedRedis redis;
    ExedProcess exed(daemon_config(redis, fork_server));
    exed.start();
    auto runs = start_sleeps(exed.port());
    for (auto& r : runs)
        CHECK(http("POST", exed.port(), "/jobs/" + r.jid + "/cancel").status == 202);
    for (auto& r : runs) {
        INFO(r.host << ": " << r.cmd);
        CHECK(wait_for([&] { return count_processes(r.cmd) == 0; }, kCancelGrace + 2));
        CHECK(wait_end(exed.port(), r.jid, 30) == "cancelled");
        kill_leftovers(r.cmd);
    }
}

void run_timeout_leaves_nothing(bool fork_server) {
    SharedRedis redis;
    ExedProcess exed(daemon_config(redis, fork_server));
    exed.start();
    auto runs = start_sleeps(exed.port(), 30);
    for (auto& r : runs) {
        INFO(r.host << ": " << r.cmd);
        CHECK(wait_end(exed.port(), r.jid, 60) == "failed");
        auto job = http("GET", exed.port(), "/jobs/" + r.jid).object();
        CHECK(job->getValue<std::string>("error").find("run_timeout") != std::string::npos);
        CHECK(wait_for([&] { return count_processes(r.cmd) == 0; }, kCancelGrace + 2));
        kill_leftovers(r.cmd);
    }
}

// A command that ignores SIGTERM gets SIGKILL kill_grace seconds later,
// still within cancel_grace + 2 s.
void stubborn_command_is_killed() {
    SharedRedis redis;
    ExedProcess exed(daemon_config(redis, true, "kill_grace = 1\n"));
    exed.start();
    std::vector<Run> runs;
    for (std::string host : {"localhost", "node1"}) {
        std::string sleep = marked_sleep(100);
        // sh -c "trap '' TERM; exec sleep 100.<n>": the sleep inherits SIG_IGN
        std::string cmd = "sh -c \\\"trap '' TERM; exec " + sleep + "\\\"";
        runs.push_back({host, sleep, submit_execute(exed.port(), host, cmd)});
    }
    for (auto& r : runs)
        REQUIRE_MESSAGE(wait_for([&] { return count_processes(r.cmd) == 1; }, 60),
                        r.host << ": " << http("GET", exed.port(), "/jobs/" + r.jid).body);
    for (auto& r : runs)
        CHECK(http("POST", exed.port(), "/jobs/" + r.jid + "/cancel").status == 202);
    for (auto& r : runs) {
        INFO(r.host << ": " << r.cmd);
        CHECK(wait_for([&] { return count_processes(r.cmd) == 0; }, kCancelGrace + 2));
        CHECK(wait_end(exed.port(), r.jid, 30) == "cancelled");
        kill_leftovers(r.cmd);
    }
}

// kill -9 of exed mid-run, then a restart: the job fails, its commands are
// gone (they died with the run, not with a later restart), the hosts free.
void crash_leaves_nothing(bool fork_server) {
    SharedRedis redis;
    ExedProcess exed(daemon_config(redis, fork_server));
    exed.start();
    auto runs = start_sleeps(exed.port());
    exed.kill9();
    for (auto& r : runs) {
        INFO(r.host << ": " << r.cmd);
        CHECK(wait_for([&] { return count_processes(r.cmd) == 0; }, kCancelGrace + 2));
    }
    exed.start();
    for (auto& r : runs) {
        INFO(r.host << ": " << r.cmd);
        // lease = 3 s: the restarted exed reclaims and fails the lost job.
        CHECK(wait_end(exed.port(), r.jid, 60) == "failed");
        CHECK(count_processes(r.cmd) == 0);
        std::string again = submit_execute(exed.port(), r.host, "true");  // 201: lock free
        CHECK(wait_end(exed.port(), again, 60) == "done");
        kill_leftovers(r.cmd);
    }
}

}  // namespace

TEST_CASE("cancel leaves no process of the job - local and ssh - fork server on") {
    cancel_leaves_nothing(true);
}

TEST_CASE("cancel leaves no process of the job - local and ssh - fork server off") {
    cancel_leaves_nothing(false);
}

TEST_CASE("cancel of a command that ignores SIGTERM: SIGKILL after kill_grace - local and ssh") {
    stubborn_command_is_killed();
}

TEST_CASE("run_timeout leaves no process of the job - local and ssh - fork server on") {
    run_timeout_leaves_nothing(true);
}

TEST_CASE("run_timeout leaves no process of the job - local and ssh - fork server off") {
    run_timeout_leaves_nothing(false);
}

TEST_CASE("kill -9 of exed: the commands die with it, the restart frees the hosts - fork server on") {
    crash_leaves_nothing(true);
}

TEST_CASE("kill -9 of exed: the commands die with it, the restart frees the hosts - fork server off") {
    crash_leaves_nothing(false);
}
