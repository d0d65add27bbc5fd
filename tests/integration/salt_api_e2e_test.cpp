// `[runner] executor = salt` end to end: a real exed process, a real
// redis-server, and the salt-api SIMULATOR behind it. Every operate
// endpoint, sync and async, with live per-minion events.
#include "integration/salt_simulator.hpp"
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <Poco/JSON/Parser.h>

#include <chrono>
#include <thread>

using namespace exed::test;

namespace {

// exe.conf of an exed whose executor is salt, against the simulator.
std::string salt_exed_config(const SharedRedis& redis, const SaltApiSimulator& sim, int timeout_s) {
    return test_config(redis.url(),
                       "[runner]\nexecutor = salt\n[salt]\napi_url = " + sim.url() +
                           "\nusername = saltapi\npassword = secret\neauth = sharedsecret\n"
                           "timeout = " + std::to_string(timeout_s) + "\npoll_interval = 0.2\n",
                       EXED_BUILD_DIR "/plugins");
}

}  // namespace

TEST_CASE("exed with executor = salt serves every operation sync and async (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1,web2,db1", "--down", "db1"});
    SharedRedis redis;
    ExedProcess exed(salt_exed_config(redis, sim, 1));
    exed.start();
    int port = exed.port();

    CHECK(http("GET", port, "/target?pattern=web*").body == R"(["web1","web2"])");

    auto r = http("GET", port, "/ping?target=*");
    REQUIRE(r.status == 200);
    CHECK(r.object()->getObject("web1")->getValue<int>("status") == 0);
    CHECK(r.object()->getObject("web2")->getValue<int>("status") == 0);
    CHECK(r.object()->getObject("db1")->getValue<int>("status") == 3);  // down: unreachable

    r = http("GET", port, "/execute?target=web1&cmd=" + q("echo exed via salt"));
    REQUIRE(r.status == 200);
    CHECK(r.object()->getObject("web1")->getValue<std::string>("stdout") == "exed via salt");
    CHECK(r.object()->getObject("web1")->getValue<int>("rtc") == 0);

    r = http("GET", port, "/facter?target=web2");
    REQUIRE(r.status == 200);
    CHECK(r.object()->getObject("web2")->getValue<int>("state") == 0);

    r = http("GET", port, "/service?target=web1&name=nginx&state=0");
    REQUIRE(r.status == 200);
    CHECK(r.object()->getObject("web1")->has("status"));

    // Async deploy with live events per minion and per state.
    r = http("POST", port, "/deploy", R"({"targets":["web*"],"role":"nginx","extra_vars":{"port":8080}})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    LineStream follow(port, "/jobs/" + jid + "?follow=1");
    std::string line;
    int host_events = 0;
    std::string end;
    while (follow.next(line)) {
        if (line.find("\"event\":\"host\"") != std::string::npos) ++host_events;
        if (line.find("\"event\":\"end\"") != std::string::npos) end = line;
    }
    CHECK(host_events >= 2);
    CHECK(end.find("\"status\":\"done\"") != std::string::npos);
    auto job = http("GET", port, "/jobs/" + jid + "?outputs=1").object();
    CHECK(job->getObject("return_data")->size() == 2);

    // Bad input still gets the salt plugin's 400 before any job exists.
    r = http("GET", port, "/service?target=web1&name=" + q("--now") + "&state=0");
    CHECK(r.status == 400);
}

TEST_CASE("GET /health reports the salt executor unavailable while salt-api is down (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SharedRedis redis;
    ExedProcess exed(salt_exed_config(redis, sim, 1));
    exed.start();
    auto r = http("GET", exed.port(), "/health");
    CHECK(r.status == 200);
    CHECK(r.object()->getValue<std::string>("executor") == "salt");
    sim.restart_api(60);  // salt-api's port stays closed for the rest of the test
    r = http("GET", exed.port(), "/health");
    CHECK(r.status == 503);
    CHECK(r.object()->getValue<std::string>("redis") == "ok");
    CHECK(r.object()->getValue<std::string>("executor") == "unavailable");
    CHECK_MESSAGE(r.object()->getValue<std::string>("executor_error").find("is unreachable") !=
                      std::string::npos,
                  r.body);
}

TEST_CASE("a job keeps its host lock and ends with the real result across a salt-api restart (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SharedRedis redis;
    ExedProcess exed(salt_exed_config(redis, sim, 1));
    exed.start();
    int port = exed.port();
    auto r = http("POST", port, "/execute", R"({"targets":["web1"],"cmd":"sleep 4"})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    bool submitted = false;
    for (int i = 0; i < 200 && !submitted; ++i) {
        submitted = sim.jobs()->size() == 1;
        if (!submitted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(submitted);
    sim.restart_api(2);
    // While salt-api is away the job runs on and holds web1's lock.
    auto second = http("POST", port, "/execute", R"({"targets":["web1"],"cmd":"true"})");
    CHECK_MESSAGE(second.status == 409, second.body);
    CHECK(http("GET", port, "/jobs/" + jid).object()->getValue<std::string>("status") == "running");
    LineStream follow(port, "/jobs/" + jid + "?follow=1");
    std::string line, end;
    while (follow.next(line))
        if (line.find("\"event\":\"end\"") != std::string::npos) end = line;
    CHECK_MESSAGE(end.find("\"status\":\"done\"") != std::string::npos, end);
    auto job = http("GET", port, "/jobs/" + jid + "?outputs=1").object();
    CHECK(job->getObject("return_data")->getObject("web1")->getValue<int>("rtc") == 0);
}

TEST_CASE("cancelling a ping of a down minion during find_job ends the job cancelled (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "db1", "--down", "db1"});
    SharedRedis redis;
    // find_job comes after 4 s of silence and the master may hold it 4 s more.
    ExedProcess exed(salt_exed_config(redis, sim, 4));
    exed.start();
    int port = exed.port();
    auto r = http("POST", port, "/ping", R"({"targets":["db1"]})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    bool asked = false;
    for (int i = 0; i < 400 && !asked; ++i) {
        asked = !sim.lowstates("local", "saltutil.find_job").empty();
        if (!asked) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(asked);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(http("POST", port, "/jobs/" + jid + "/cancel").status == 202);
    LineStream follow(port, "/jobs/" + jid + "?follow=1");
    std::string line, end;
    while (follow.next(line))
        if (line.find("\"event\":\"end\"") != std::string::npos) end = line;
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("cancel to end: " << took << " s");  // a number for docs/salt.md, not a threshold
    CHECK_MESSAGE(end.find("\"status\":\"cancelled\"") != std::string::npos, end);
    CHECK(sim.lowstates("local_async", "saltutil.kill_job").size() == 1);
}
