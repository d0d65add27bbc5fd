// `[runner] executor = agent` end to end: a real exed, a real redis-server
// and real `exed agent` processes on loopback. Every operation, targets,
// tokens, cancel, an agent killed mid-run, exed restarted under its agents.
#include "integration/agent_support.hpp"
#include "support/procs.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

using namespace exed::test;

namespace {

std::string server_of(const AgentSite& site) { return "http://127.0.0.1:" + std::to_string(site.agent_port); }

// One exed with the agent executor ([runner] settings appended from
// `exed_extra`) and one agent, web1, allowed to exec, listed by exed.
struct Web1Site {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed;
    AgentProcess web1;
    int port = 0;
    explicit Web1Site(const std::string& exed_extra = "")
        : exed(site.exed_config(redis) + exed_extra),
          web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true") {
        exed.start();
        port = exed.port();
        web1.start();
        REQUIRE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 20));
    }
};

// A script that prints a line, touches `started`, waits for the file `go`
// (at most a minute), then prints one line on each stream.
std::string gated_script(const AgentSite& site) {
    return site.dir.write("gated.sh", "echo first\ntouch " + site.dir.file("started") + "\ni=0\nwhile [ ! -e " +
                                          site.dir.file("go") +
                                          " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n"
                                          "echo second >&2\necho third\n");
}

// Submits the gated script on web1 and waits until it has started: {jid, script}.
std::pair<std::string, std::string> start_gated(int port, const AgentSite& site) {
    std::string script = gated_script(site);
    auto r = http("POST", port, "/execute", R"({"targets":["web1"],"cmd":"sh )" + script + R"("})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    std::string jid = r.object()->getValue<std::string>("jid");
    REQUIRE(wait_until([&] { return file_exists(site.dir.file("started")); }, 15));
    return {jid, script};
}

// Lets the gated script go on and checks its job ends done with the whole
// output, the script having run once.
void release_and_check(int port, const AgentSite& site, const std::string& jid, const std::string& script) {
    site.dir.write("go", "");
    REQUIRE(wait_until([&] {
        auto s = http("GET", port, "/jobs/" + jid).object()->getValue<std::string>("status");
        return s != "running" && s != "queued";
    }, 30));
    auto job = http("GET", port, "/jobs/" + jid + "?outputs=1");
    REQUIRE_MESSAGE(job.object()->getValue<std::string>("status") == "done", job.body);
    auto host = job.object()->getObject("return_data")->getObject("web1");
    REQUIRE(host);
    CHECK(host->getValue<std::string>("stdout") == "first\nthird\n");
    CHECK(host->getValue<std::string>("stderr") == "second\n");
    CHECK(host->getValue<int>("rtc") == 0);
    CHECK(count_processes("sh " + script) == 0);  // it ran once, to its end
}

}  // namespace

TEST_CASE("agent executor: every operation runs through connected agents") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis));
    exed.start();
    int port = exed.port();
    REQUIRE(file_exists(site.key + ".pub"));
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true");
    AgentProcess db(server_of(site), "db", site.key + ".pub", site.token_file, "instances = 3",
                    "hello = echo hello from a named command\n");
    web1.start();
    db.start();
    REQUIRE_MESSAGE(wait_until([&] { return listed(port, "*") == R"(["db-1","db-2","db-3","web1"])"; }, 20),
                    std::string(listed(port, "*") + web1.log() + db.log()));
    CHECK(listed(port, "db-*:!db-2") == R"(["db-1","db-3"])");
    CHECK(listed(port, "web?,db-[13]") == R"(["db-1","db-3","web1"])");
    CHECK(listed(port, "*:&db*") == R"(["db-1","db-2","db-3"])");
    CHECK(listed(port, "~web") == R"(["web1"])");

    auto r = http("GET", port, "/ping?target=*");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    for (auto n : {"web1", "db-1", "db-2", "db-3"}) CHECK(r.object()->getObject(n)->getValue<int>("status") == 0);

    r = http("GET", port, "/execute?target=web1&cmd=" + q("echo exed via agent"));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.object()->getObject("web1")->getValue<std::string>("stdout") == "exed via agent\n");
    CHECK(r.object()->getObject("web1")->getValue<int>("rtc") == 0);
    CHECK(r.object()->getObject("web1")->getValue<int>("status") == 4);
    CHECK(!r.object()->getObject("web1")->getValue<std::string>("ack_time").empty());

    // A non-zero exit is a failed host with its exit status.
    r = http("GET", port, "/execute?target=web1&cmd=" + q("false"));
    CHECK(r.object()->getObject("web1")->getValue<int>("rtc") == 1);
    CHECK(r.object()->getObject("web1")->getValue<int>("status") == 2);
    // db-* have allow_exec off: only their named command runs.
    r = http("GET", port, "/execute?target=db-2&cmd=hello");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.object()->getObject("db-2")->getValue<std::string>("stdout") == "hello from a named command\n");
    r = http("GET", port, "/execute?target=db-1&cmd=" + q("touch " + exed.dir().file("db1-ran")));
    CHECK(r.object()->getObject("db-1")->getValue<int>("status") == 2);
    CHECK(r.object()->getObject("db-1")->getValue<std::string>("error").find("command not allowed") !=
          std::string::npos);
    CHECK(!file_exists(exed.dir().file("db1-ran")));

    r = http("GET", port, "/facter?target=web1");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto facts = r.object()->getObject("web1")->getObject("facter");
    REQUIRE(facts);
    CHECK(facts->has("hostname"));
    CHECK(facts->has("kernel"));
    CHECK(facts->has("architecture"));

    // service: the agent validates the unit name like the ansible executor.
    r = http("GET", port, "/service?target=web1&name=" + q("-x") + "&state=0");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.object()->getObject("web1")->getValue<std::string>("error").find("invalid service name") !=
          std::string::npos);
    r = http("GET", port, "/service?target=web1&name=exed-no-such-unit&state=1");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.object()->getObject("web1")->getValue<int>("status") == 2);  // no such service here

    // deploy is not an agent operation.
    r = http("POST", port, "/deploy", R"({"targets":["web1"],"role":"nginx"})");
    CHECK_MESSAGE(r.body.find("does not implement operation 'deploy'") != std::string::npos, r.body);

    // Output streams into the job as it is produced.
    std::string script = exed.dir().write("two-lines.sh", "echo one\nsleep 1\necho two\n");
    r = http("POST", port, "/execute", R"({"targets":["web1"],"cmd":"sh )" + script + "\"}");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    std::string jid = r.object()->getValue<std::string>("jid");
    LineStream follow(port, "/jobs/" + jid + "?follow=1");
    std::string line, end;
    int chunks = 0;
    while (follow.next(line)) {
        if (line.find("\"output\"") != std::string::npos) ++chunks;
        if (line.find("\"event\":\"end\"") != std::string::npos) end = line;
    }
    CHECK(chunks == 2);
    CHECK(end.find("\"status\":\"done\"") != std::string::npos);
}

TEST_CASE("agent executor: an agent with the wrong token is refused and never listed") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis));
    exed.start();
    std::string bad = site.dir.write("bad.token", "not-the-token-of-this-exed-000\n");
    AgentProcess good(server_of(site), "good", site.key + ".pub", site.token_file);
    AgentProcess intruder(server_of(site), "intruder", site.key + ".pub", bad);
    good.start();
    intruder.start();
    REQUIRE(wait_until([&] { return listed(exed.port(), "*") == R"(["good"])"; }, 20));
    REQUIRE(wait_until([&] { return exed.log().find("refused agent 'intruder'") != std::string::npos; }, 10));
    CHECK(listed(exed.port(), "*") == R"(["good"])");
}

TEST_CASE("agent executor: cancel kills the command's process group") {
    Web1Site s;
    int port = s.port;
    auto r = http("POST", port, "/execute", R"({"targets":["web1"],"cmd":"sleep 4711"})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    REQUIRE(wait_until([&] { return count_processes("sleep 4711") == 1; }, 10));
    r = http("POST", port, "/jobs/" + jid + "/cancel");
    CHECK_MESSAGE(r.status < 300, r.body);
    CHECK(wait_until([&] { return count_processes("sleep 4711") == 0; }, 10));
    CHECK(wait_until([&] {
        auto s = http("GET", port, "/jobs/" + jid).object()->getValue<std::string>("status");
        return s == "cancelled" || s == "killed";
    }, 15));
}

TEST_CASE("agent executor: kill -9 of an agent mid-run fails the run and the node is listed down") {
    Web1Site s;
    auto& web1 = s.web1;
    int port = s.port;
    auto r = http("POST", port, "/execute", R"({"targets":["web1"],"cmd":"sleep 4712"})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    REQUIRE(wait_until([&] { return count_processes("sleep 4712") == 1; }, 10));
    web1.stop(SIGKILL);
    // Still a known node (issue 24): listed, down.
    CHECK(wait_until([&] { return http("GET", port, "/target?detail=1").body == R"([{"name":"web1","state":"down"}])"; }, 10));
    REQUIRE(wait_until([&] {
        auto s = http("GET", port, "/jobs/" + jid).object()->getValue<std::string>("status");
        return s != "running" && s != "queued";
    }, 20));
    auto job = http("GET", port, "/jobs/" + jid + "?outputs=1");
    CHECK_MESSAGE(job.object()->getValue<std::string>("status") == "failed", job.body);
    CHECK(job.body.find("went away") != std::string::npos);
    // kill -9 left the agent's child behind in its own group: end it.
    kill_group_of("sleep 4712");
}

TEST_CASE("agent executor: agents reconnect to a restarted exed") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis));
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true",
                      "");
    web1.start();
    REQUIRE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 20));
    exed.stop();
    exed.start();
    port = exed.port();
    REQUIRE_MESSAGE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 20), web1.log());
    auto r = http("GET", port, "/ping?target=web1");
    CHECK(r.object()->getObject("web1")->getValue<int>("status") == 0);
    CHECK(web1.log().find("reconnecting") != std::string::npos);
}

TEST_CASE("agent executor: a command running when exed is killed is resumed by the restarted exed, no output lost") {
    // lease 2 s: the restarted exed takes the lost job over soon.
    Web1Site s("\n[runner]\nlease = 2\n");
    auto& site = s.site;
    auto& exed = s.exed;
    auto& web1 = s.web1;
    int port = s.port;
    auto [jid, script] = start_gated(port, site);

    exed.kill9();  // its plugin host dies with it; the command goes on on web1
    CHECK(count_processes("sh " + script) == 1);
    exed.start();
    port = exed.port();
    // The restarted exed reclaims the job and its executor attaches to the run.
    REQUIRE_MESSAGE(wait_until([&] { return web1.log().find("attached to run") != std::string::npos; }, 30),
                    web1.log());
    CHECK(web1.log().find("(running)") != std::string::npos);
    // Before the kill, while exed was down, and after: all of it.
    release_and_check(port, site, jid, script);
}

TEST_CASE("agent executor: a command running when the plugin host crashes is resumed by the next host") {
    Web1Site s;
    auto& site = s.site;
    auto& exed = s.exed;
    auto& web1 = s.web1;
    int port = s.port;
    auto [jid, script] = start_gated(port, site);

    // The agent listener and its connections die with the host; the next
    // host binds the port again, the agent comes back, the job is resumed.
    pid_t host = plugin_host_of(exed.pid());
    REQUIRE(host > 0);
    REQUIRE(::kill(host, SIGKILL) == 0);
    REQUIRE_MESSAGE(wait_until([&] { return web1.log().find("attached to run") != std::string::npos; }, 30),
                    web1.log());
    CHECK(plugin_host_of(exed.pid()) != host);
    CHECK(http("GET", port, "/jobs/" + jid).object()->getValue<std::string>("status") == "running");
    release_and_check(port, site, jid, script);
    CHECK(listed(port, "*") == R"(["web1"])");
}

TEST_CASE("agent executor: a command going on through an exed restart keeps its host locked until its job ends") {
    // Issue 23: the lost job's host lock expired with its queue entry's
    // lease, so until the restarted exed's next reclaim (every lease/2)
    // another job could take web1 while the command still ran there (and
    // the resume then failed as "operate conflict", leaving the command to
    // itself). lease 6 s: the agent is back (backoff 0.5, 1, 2 s) well
    // before the lease ends, so the whole reclaim period is watched.
    Web1Site s("\n[runner]\nlease = 6\n");
    auto& site = s.site;
    auto& exed = s.exed;
    auto& web1 = s.web1;
    int port = s.port;
    auto [jid, script] = start_gated(port, site);

    exed.kill9();
    exed.start();
    port = exed.port();
    REQUIRE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 20));
    // From the agent's return to the resume, web1 is refused to any other job.
    int given = 0, asked = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until && given == 0 &&
           web1.log().find("attached to run") == std::string::npos) {
        auto r = http("POST", port, "/ping", R"({"targets":["web1"]})");
        ++asked;
        if (r.status == 201) ++given;
        else REQUIRE_MESSAGE(r.status == 409, r.body);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK_MESSAGE(given == 0, "web1 was given to another job while the lost job's command ran on it");
    CHECK(asked > 10);
    REQUIRE_MESSAGE(wait_until([&] { return web1.log().find("attached to run") != std::string::npos; }, 30),
                    web1.log());
    CHECK(http("POST", port, "/ping", R"({"targets":["web1"]})").status == 409);  // still the resumed job's
    release_and_check(port, site, jid, script);
}
