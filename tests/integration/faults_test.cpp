// Faults that must not lose work (issue 14): the embedded redis-server
// killed, exed itself killed, the run dir's disk full.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <signal.h>

using namespace exed::test;

namespace {

std::string job_field(int port, const std::string& jid, const std::string& field) {
    auto r = http("GET", port, "/jobs/" + jid);
    if (r.status != 200) return "";
    return r.object()->optValue<std::string>(field, "");
}

std::string wait_for_status(int port, const std::string& jid, const std::string& want, int seconds) {
    std::string st;
    for (int i = 0; i < seconds * 10 && st != want; ++i) {
        st = job_field(port, jid, "status");
        if (st != want) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return st;
}

int read_pid(const std::string& path) {
    std::ifstream in(path);
    int pid = 0;
    in >> pid;
    return pid;
}

// Running and not a zombie.
bool process_alive(int pid) {
    if (pid <= 0 || kill(pid, 0) != 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    size_t paren = all.rfind(')');
    return paren == std::string::npos || all.size() < paren + 3 || all[paren + 2] != 'Z';
}

bool wait_dead(int pid, int seconds) {
    for (int i = 0; i < seconds * 10 && process_alive(pid); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return !process_alive(pid);
}

}  // namespace

TEST_CASE("kill -9 of the embedded redis: restarted from its AOF, and a job that ended meanwhile keeps its end") {
    ExedProcess exed(test_config("embedded"));
    exed.start();
    std::string redis_pid_file = exed.dir().file("run/redis.pid");
    auto r = http("POST", exed.port(), "/execute", R"({"targets":["node2"],"cmd":"sleep 3"})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    REQUIRE(wait_for_status(exed.port(), jid, "running", 10) == "running");
    int first = read_pid(redis_pid_file);
    REQUIRE(process_alive(first));
    REQUIRE(kill(first, SIGKILL) == 0);
    REQUIRE(wait_dead(first, 10));
    // The job ends (3 s) around the outage; its end is written once redis is back.
    CHECK(wait_for_status(exed.port(), jid, "done", 60) == "done");
    CHECK(job_field(exed.port(), jid, "error").find("lost") == std::string::npos);
    int second = read_pid(redis_pid_file);
    CHECK(second != first);
    CHECK(process_alive(second));
    CHECK(http("GET", exed.port(), "/health").status == 200);
    CHECK(exed.log().find("restarting it") != std::string::npos);
    // Work submitted after the restart runs as usual.
    r = http("POST", exed.port(), "/ping", R"({"targets":["node1"]})");
    REQUIRE(r.status == 201);
    CHECK(wait_for_status(exed.port(), r.object()->getValue<std::string>("jid"), "done", 30) == "done");
    exed.stop();
    CHECK(wait_dead(second, 10));
}

TEST_CASE("kill -9 of exed: a restart replaces the stale pid file and the orphaned redis, and a clean stop leaves none") {
    ExedProcess exed(test_config("embedded", "[api]\npid_file = @DIR@/exed.pid\n"));
    exed.start();
    std::string pid_file = exed.dir().file("exed.pid");
    std::string redis_pid_file = exed.dir().file("run/redis.pid");
    auto r = http("POST", exed.port(), "/ping", R"({"targets":["node1"]})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    REQUIRE(wait_for_status(exed.port(), jid, "done", 30) == "done");
    int orphan = read_pid(redis_pid_file);
    exed.kill9();
    CHECK(read_pid(pid_file) > 0);  // stale
    CHECK(process_alive(orphan));   // orphaned, still serving its socket

    exed.start();
    CHECK(read_pid(pid_file) == exed.pid());
    CHECK(http("GET", exed.port(), "/jobs/" + jid).status == 200);  // the data survived
    CHECK(wait_dead(orphan, 10));                                    // replaced by our own child
    int own = read_pid(redis_pid_file);
    CHECK(process_alive(own));

    // A second exed on the same pid file refuses while this one lives.
    ExedProcess second(test_config("embedded", "[api]\npid_file = " + pid_file + "\n"));
    CHECK(second.run_to_exit({"-c", second.conf_path()}) != 0);
    CHECK(second.log().find("another exed (pid " + std::to_string(exed.pid()) + ")") != std::string::npos);

    exed.stop();
    CHECK(exed.exit_code() == 0);
    CHECK(wait_dead(own, 10));
    CHECK_FALSE(process_alive(orphan));
}
