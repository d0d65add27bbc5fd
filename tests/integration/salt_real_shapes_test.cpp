// The salt executor against the answers of a real Salt 3006.7 + salt-api, as
// the salt-api SIMULATOR reproduces them (issue 12 §3): HTML error pages,
// outputter-wrapped jobs.lookup_jid, find_job's `false` for a down minion,
// cancel during find_job, salt-api restarting mid-job, the /events token,
// and the execution context in "Unable to run command".
#include "integration/salt_simulator.hpp"
#include "support/recording_hooks.hpp"

#include <Poco/JSON/Parser.h>

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

using exed::test::RecordingHooks;
using exed::test::SaltApiSimulator;
using exed::test::SaltPlugin;
using Poco::JSON::Object;

namespace {

Object::Ptr obj(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

// Waits (bounded) until `ready` holds; false when it never did.
template <class Pred>
bool eventually(Pred ready, int tries = 300) {
    for (int i = 0; i < tries; ++i) {
        if (ready()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

bool has_job(const SaltApiSimulator& sim, const std::string& fun) {
    auto jobs = sim.jobs();
    for (auto& [jid, _] : *jobs)
        if (jobs->getObject(jid)->getValue<std::string>("fun") == fun) return true;
    return false;
}

}  // namespace

TEST_CASE("salt-api's HTML error page gives its reason: a client not in netapi_enable_clients (salt-api simulator)") {
    // Salt >= 3006 disables every netapi client unless the master enables it.
    SaltApiSimulator sim({"--minions", "web1", "--netapi-enable-clients", "local,local_async,runner"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("targets", R"({"pattern":"*"})", hooks);
    CHECK(r.status == EXED_ERR);
    CHECK_MESSAGE(r.error.find("answered key.list_all with HTTP 400: Client disabled: 'wheel'. Add to "
                               "'netapi_enable_clients' master config option to enable.") !=
                      std::string::npos,
                  r.error);
    CHECK(r.error.find('<') == std::string::npos);  // no HTML left
    // The enabled clients still work.
    CHECK(salt.plugin->invoke("ping", R"({"targets":["web1"]})", hooks).ok());
}

TEST_CASE("jobs.lookup_jid wrapped in an outputter is read when polling (use_events = false) (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SaltPlugin salt(sim.url(), {{"use_events", "false"}});
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    // grains.items: {"outputter":"nested","data":{…}}
    auto r = salt.plugin->invoke("facter", R"({"targets":["web1"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto web1 = obj(r.result)->getObject("web1");
    CHECK_MESSAGE(web1->getValue<int>("status") == 0, r.result);
    CHECK(web1->getObject("facter")->getValue<std::string>("id") == "web1");
    // state.apply: {"outputter":"highstate","data":{…}}
    r = salt.plugin->invoke("deploy", R"({"targets":["web1"],"role":"nginx"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    web1 = obj(r.result)->getObject("web1");
    CHECK_MESSAGE(web1->getValue<int>("status") == 4, r.result);
    CHECK(web1->getValue<int>("states") == 3);
    // A minion error is wrapped too ("nested"); cmd.run_all comes plain.
    r = salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"/no/such/binary"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(obj(r.result)->getObject("web1")->getValue<std::string>("error").find("ERROR: Unable to run command") == 0);
    r = salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"echo plain"})", hooks);
    CHECK(obj(r.result)->getObject("web1")->getValue<std::string>("stdout") == "plain");
    CHECK(sim.count("GET", "/events") == 0);
}

TEST_CASE("jobs.lookup_jid wrapped in an outputter is read in the events-mode fallback (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1", "--no-events"});
    SaltPlugin salt(sim.url());  // use_events = true, but /events answers 404
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("facter", R"({"targets":["web1"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK_MESSAGE(obj(r.result)->getObject("web1")->getValue<int>("status") == 0, r.result);
    r = salt.plugin->invoke("deploy", R"({"targets":["web1"],"role":"nginx","partial":"reconfig"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK_MESSAGE(obj(r.result)->getObject("web1")->getValue<int>("status") == 4, r.result);
    CHECK(sim.count("GET", "/events") == 2);
}

TEST_CASE("a down minion (find_job answers false) is unreachable, asked with our own gather_job_timeout (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1,db1", "--down", "db1"});
    SaltPlugin salt(sim.url(), {{"timeout", "2"}});
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("ping", R"({"targets":["web1","db1"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto db1 = obj(r.result)->getObject("db1");
    CHECK(db1->getValue<int>("status") == 3);
    std::string error = db1->getValue<std::string>("error");
    CHECK_MESSAGE(error.find("minion did not return within ") == 0, error);
    CHECK(error.find("(down or unreachable)") != std::string::npos);
    // The master holds find_job for timeout + gather_job_timeout: both are
    // sent, and together they stay within [salt] timeout (not 5 + 10 s).
    auto asks = sim.lowstates("local", "saltutil.find_job");
    REQUIRE(asks.size() >= 1);
    int held = asks[0]->getValue<int>("timeout") + asks[0]->getValue<int>("gather_job_timeout");
    CHECK(held <= 2);
}

TEST_CASE("a minion whose key went away (find_job: 'Minion did not return…') is unreachable (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1,db1", "--down", "db1"});
    SaltPlugin salt(sim.url(), {{"timeout", "2"}});
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    std::thread remover([&] {
        if (eventually([&] { return has_job(sim, "test.ping"); })) sim.delete_key("db1");
    });
    auto r = salt.plugin->invoke("ping", R"({"targets":["db1"]})", hooks);
    remover.join();
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto db1 = obj(r.result)->getObject("db1");
    CHECK(db1->getValue<int>("status") == 3);
    CHECK_MESSAGE(db1->getValue<std::string>("error").find("(down or unreachable)") != std::string::npos,
                  r.result);
}

TEST_CASE("cancel while salt-api holds find_job ends the call cancelled (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "db1", "--down", "db1"});
    SaltPlugin salt(sim.url(), {{"timeout", "4"}});  // find_job held up to 4 s
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    std::thread canceller([&] {
        eventually([&] { return !sim.lowstates("local", "saltutil.find_job").empty(); }, 400);
        hooks.cancel = true;
    });
    auto r = salt.plugin->invoke("ping", R"({"targets":["db1"]})", hooks);
    canceller.join();
    CHECK_MESSAGE(r.status == EXED_ERR_CANCELLED, r.error, r.result);
    CHECK(sim.lowstates("local_async", "saltutil.kill_job").size() == 1);
}

TEST_CASE("salt-api restarted mid-job: the call waits for it and records the real result (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    std::thread restarter([&] {
        if (eventually([&] { return has_job(sim, "cmd.run_all"); })) sim.restart_api(2);
    });
    auto r = salt.plugin->invoke(
        "execute", R"({"targets":["web1"],"argv":["sh","-c","sleep 3; echo survived"]})", hooks);
    restarter.join();
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto web1 = obj(r.result)->getObject("web1");
    CHECK(web1->getValue<int>("status") == 4);
    CHECK(web1->getValue<std::string>("stdout") == "survived");
    CHECK(sim.count("POST", "/login") == 2);  // the restarted salt-api forgot the session
    CHECK(sim.lowstates("local_async", "saltutil.kill_job").empty());
}

TEST_CASE("the /events token goes in the X-Auth-Token header, never in the URL (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    REQUIRE(salt.plugin->invoke("ping", R"({"targets":["web1"]})", hooks).ok());
    REQUIRE(sim.count("GET", "/events") == 1);
    auto reqs = sim.requests();  // salt-api's access log: method and URL of each request
    for (size_t i = 0; i < reqs->size(); ++i) {
        std::string path = reqs->getObject(unsigned(i))->getValue<std::string>("path");
        CAPTURE(path);
        CHECK(path.find("token") == std::string::npos);
        CHECK(path.find('?') == std::string::npos);
    }
}

TEST_CASE("a command that cannot start keeps Salt's reason without the minion's environment (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"/no/such/binary --flag"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto web1 = obj(r.result)->getObject("web1");
    CHECK(web1->getValue<int>("status") == 2);
    for (auto key : {"error", "stderr"}) {
        std::string text = web1->getValue<std::string>(key);
        CAPTURE(text);
        CHECK(text == "ERROR: Unable to run command '['/no/such/binary', '--flag']', reason: [Errno 2] "
                      "No such file or directory: '/no/such/binary'");
    }
}

TEST_CASE("salt-api's session (10 h) ending before its token (12 h) is covered by one new login (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1", "--session-ttl", "1", "--token-ttl", "3600"});
    SaltPlugin salt(sim.url(), {{"use_events", "false"}});
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    REQUIRE(salt.plugin->invoke("ping", R"({"targets":["web1"]})", hooks).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
    auto r = salt.plugin->invoke("ping", R"({"targets":["web1"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(sim.count("POST", "/login") == 2);
}

TEST_CASE("the executor's health check asks salt-api (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    CHECK(salt.plugin->check("health", "{}").ok());
    sim.restart_api(30);
    auto h = salt.plugin->check("health", "{}");
    CHECK(h.status == EXED_ERR);
    CHECK_MESSAGE(h.error.find("is unreachable") != std::string::npos, h.error);
}
