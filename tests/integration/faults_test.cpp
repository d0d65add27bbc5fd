// Faults that must not lose work (issue 14): the embedded redis-server
// killed, exed itself killed, the run dir's disk full.
#include "support/job_polls.hpp"
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <signal.h>

using namespace exed::test;

namespace {

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

TEST_CASE("run dir on a full disk: 503 naming the disk (not a 500 or a 504), and service resumes when space returns") {
    // The run dir is a 3 MB tmpfs in a mount namespace of exed's own; the
    // test fills and frees it through /proc/<pid>/root.
    ExedProcess exed(test_config("embedded"));
    exed.set_wrapper({"unshare", "-m", "sh", "-c",
                      "mkdir -p run && mount -t tmpfs -o size=3m exed-full-disk run && exec \"$0\" \"$@\""});
    exed.start();
    std::string run_dir = exed.dir().path() + "/run";
    std::string filler = "/proc/" + std::to_string(exed.pid()) + "/root" + run_dir + "/filler";
    auto ok = http("POST", exed.port(), "/ping", R"({"targets":["node1"]})");
    REQUIRE(ok.status == 201);
    REQUIRE(wait_for_status(exed.port(), ok.object()->getValue<std::string>("jid"), "done", 30) == "done");

    {
        std::ofstream fill(filler, std::ios::binary);
        REQUIRE(fill.good());
        std::string mb(1 << 20, 'x');
        for (int i = 0; i < 8 && fill; ++i) fill.write(mb.data(), long(mb.size())), fill.flush();
    }
    // Redis notices at its next AOF write: a request or two may still get in.
    std::vector<std::string> accepted;
    HttpResponse refused;
    for (int i = 0; i < 50 && refused.status == 0; ++i) {
        auto r = http("POST", exed.port(), "/ping", R"({"targets":["node3"]})");
        REQUIRE_MESSAGE((r.status == 201 || r.status == 503 || r.status == 409), r.body);
        if (r.status == 201) accepted.push_back(r.object()->getValue<std::string>("jid"));
        if (r.status == 503) refused = r;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    REQUIRE(refused.status == 503);
    CHECK(refused.message().find("disk of " + run_dir) != std::string::npos);
    CHECK(refused.message().find("script:") == std::string::npos);
    // Our words only: Redis's raw reply (its config names) goes to the log.
    CHECK(refused.message().find("MISCONF") == std::string::npos);
    CHECK(refused.message().find("stop-writes-on-bgsave-error") == std::string::npos);
    CHECK(refused.message().find("writes resume once it can") != std::string::npos);
    auto sync = http("GET", exed.port(), "/ping?target=node1");
    CHECK(sync.status == 503);  // at once, not a 504 after the sync deadline
    CHECK(sync.message().find("disk of " + run_dir) != std::string::npos);

    std::remove(filler.c_str());
    std::string after;
    for (int i = 0; i < 100 && after.empty(); ++i) {
        auto r = http("POST", exed.port(), "/ping", R"({"targets":["node1"]})");
        if (r.status == 201) after = r.object()->getValue<std::string>("jid");
        else std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    REQUIRE(!after.empty());
    CHECK(wait_for_status(exed.port(), after, "done", 30) == "done");
    for (auto& jid : accepted) {  // never mislabelled "worker lost"
        CAPTURE(jid);
        CHECK(wait_for_status(exed.port(), jid, "done", 60) == "done");
    }
}
