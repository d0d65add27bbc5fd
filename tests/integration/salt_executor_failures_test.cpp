// The salt executor against the salt-api SIMULATOR when things go wrong:
// tokens expiring or revoked, bad credentials, an unreachable salt-api, cancel
// and run_timeout (saltutil.kill_job must be sent), no /events stream,
// batching, and argument checks.
#include "integration/salt_simulator.hpp"
#include "support/recording_hooks.hpp"

#include <Poco/JSON/Parser.h>

#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <thread>

using exed::test::RecordingHooks;
using exed::test::SaltApiSimulator;
using exed::test::SaltPlugin;
using Poco::JSON::Object;

namespace {

Object::Ptr obj(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct DeadlineHooks : RecordingHooks {
    explicit DeadlineHooks(int seconds) : at(int64_t(std::time(nullptr)) + seconds) {}
    int64_t deadline() override { return at; }
    int64_t at;
};

// The jids named by the saltutil.kill_job requests salt-api received.
std::vector<std::string> kill_job_jids(const SaltApiSimulator& sim) {
    std::vector<std::string> out;
    for (auto& low : sim.lowstates("", "saltutil.kill_job"))
        out.push_back(low->getArray("arg")->getElement<std::string>(0));
    return out;
}

// The jid of the only job of the simulator running `fun`.
std::string jid_of(const SaltApiSimulator& sim, const std::string& fun) {
    std::string found;
    auto jobs = sim.jobs();
    for (auto& [jid, _] : *jobs)
        if (jobs->getObject(jid)->getValue<std::string>("fun") == fun) {
            REQUIRE(found.empty());
            found = jid;
        }
    REQUIRE(!found.empty());
    return found;
}

std::string killed_on(const SaltApiSimulator& sim, const std::string& jid) {
    auto job = sim.jobs()->getObject(jid);
    std::string out;
    auto killed = job->getArray("killed");
    for (size_t i = 0; i < killed->size(); ++i) out += killed->getElement<std::string>(unsigned(i)) + " ";
    return out;
}

}  // namespace

TEST_CASE("an expired token is renewed by logging in again (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1", "--token-ttl", "2"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    REQUIRE(salt.plugin->invoke("ping", R"({"targets":["web1"]})", hooks).ok());
    REQUIRE(salt.plugin->invoke("ping", R"({"targets":["web1"]})", hooks).ok());
    CHECK(sim.count("POST", "/login") == 1);  // cached while valid
    std::this_thread::sleep_for(std::chrono::milliseconds(2200));
    auto r = salt.plugin->invoke("ping", R"({"targets":["web1"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(obj(r.result)->getObject("web1")->getValue<int>("status") == 0);
    CHECK(sim.count("POST", "/login") == 2);
}

TEST_CASE("a token salt-api forgot (401) leads to one new login and a retry (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SaltPlugin salt(sim.url(), {{"targets_cache", "0"}});
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    REQUIRE(salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"true"})", hooks).ok());
    CHECK(sim.count("POST", "/login") == 1);
    sim.revoke_tokens();  // like a master restart
    // First met by GET /events (the stream opens before the job is submitted).
    auto r = salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"echo again"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(obj(r.result)->getObject("web1")->getValue<std::string>("stdout") == "again");
    CHECK(sim.count("POST", "/login") == 2);
    // Then by POST / (targets needs no event stream).
    sim.revoke_tokens();
    r = salt.plugin->invoke("targets", R"({"pattern":"web*"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(r.result == R"(["web1"])");
    CHECK(sim.count("POST", "/login") == 3);
    CHECK(sim.count("POST", "/") == 4);  // cmd.run_all x2, key.list_all refused, then again
}

TEST_CASE("a wrong password is a clear job error (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SaltPlugin salt(sim.url(), {{"password", "wrong"}});
    REQUIRE(salt.plugin);  // loading needs no network
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("ping", R"({"targets":["web1"]})", hooks);
    CHECK(r.status == EXED_ERR);
    CHECK(r.error.find("refused the login of user 'saltapi'") != std::string::npos);
    CHECK(r.error.find("HTTP 401") != std::string::npos);
    r = salt.plugin->invoke("targets", R"({"pattern":"*"})", hooks);
    CHECK(r.status == EXED_ERR);
    CHECK(hooks.snapshot().empty());
}

TEST_CASE("an unreachable api_url fails quickly with a clear error (salt-api simulator)") {
    SaltPlugin salt("http://127.0.0.1:1");
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto t0 = std::chrono::steady_clock::now();
    auto r = salt.plugin->invoke("ping", R"({"targets":["web1"]})", hooks);
    CHECK(seconds_since(t0) < 5);
    CHECK(r.status == EXED_ERR);
    CHECK(r.error.find("salt-api at http://127.0.0.1:1 is unreachable") == 0);
    r = salt.plugin->invoke("targets", R"({})", hooks);
    CHECK(r.status == EXED_ERR);
    CHECK(r.error.find("unreachable") != std::string::npos);
}

TEST_CASE("a bad [salt] config refuses the plugin with the reason (salt-api simulator)") {
    SaltPlugin bad_url("ftp://127.0.0.1:8000");
    CHECK_FALSE(bad_url.plugin);
    REQUIRE(bad_url.registry.refusals().size() == 1);
    CHECK(bad_url.registry.refusals()[0].reason.find("api_url") != std::string::npos);
    SaltPlugin bad_timeout("http://127.0.0.1:8000", {{"timeout", "soon"}});
    CHECK_FALSE(bad_timeout.plugin);
    SaltPlugin bad_batch("http://127.0.0.1:8000", {{"batch", "150%"}});
    CHECK_FALSE(bad_batch.plugin);
}

TEST_CASE("cancel kills the salt job on the minions and stops waiting (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1,web2"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    std::thread canceller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(800));
        hooks.cancel = true;
    });
    auto t0 = std::chrono::steady_clock::now();
    auto r = salt.plugin->invoke("execute", R"({"targets":["web1","web2"],"cmd":"sleep 30"})", hooks);
    canceller.join();
    CHECK(r.status == EXED_ERR_CANCELLED);
    CHECK(seconds_since(t0) < 5);
    auto jobs = sim.lowstates("local_async", "cmd.run_all");
    REQUIRE(jobs.size() == 1);
    auto kills = sim.lowstates("local_async", "saltutil.kill_job");
    REQUIRE(kills.size() == 1);
    CHECK(kills[0]->getArray("tgt")->size() == 2);
    // The kill names the job that was submitted, and the minions' processes died.
    std::string jid = jid_of(sim, "cmd.run_all");
    CHECK(kill_job_jids(sim) == std::vector<std::string>{jid});
    CHECK(killed_on(sim, jid) == "web1 web2 ");
}

TEST_CASE("run_timeout kills the salt job and fails with a timeout error (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    DeadlineHooks hooks(2);
    auto t0 = std::chrono::steady_clock::now();
    auto r = salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"sleep 30"})", hooks);
    CHECK(seconds_since(t0) < 6);
    CHECK(r.status == EXED_ERR);
    CHECK(r.error.find("run_timeout reached: salt job") == 0);
    CHECK(r.error.find("killed on web1") != std::string::npos);
    std::string jid = jid_of(sim, "cmd.run_all");
    CHECK(kill_job_jids(sim) == std::vector<std::string>{jid});
    CHECK(r.error.find(jid) != std::string::npos);
    CHECK(killed_on(sim, jid) == "web1 ");
}

TEST_CASE("without /events the returns come from polling jobs.lookup_jid (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1,web2", "--no-events"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("execute", R"({"targets":["web1","web2"],"cmd":"echo polled"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    CHECK(res->getObject("web1")->getValue<std::string>("stdout") == "polled");
    CHECK(res->getObject("web2")->getValue<int>("rtc") == 0);
    CHECK(hooks.snapshot().size() == 2);
    CHECK(sim.lowstates("runner", "jobs.lookup_jid").size() >= 1);
}

TEST_CASE("batch runs one salt job per batch of minions (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1,web2,web3"});
    SaltPlugin salt(sim.url(), {{"batch", "2"}});
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("ping", R"({"targets":["web1","web2","web3"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(obj(r.result)->size() == 3);
    auto jobs = sim.lowstates("local_async", "test.ping");
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0]->getArray("tgt")->size() == 2);
    CHECK(jobs[1]->getArray("tgt")->size() == 1);
}

TEST_CASE("check refuses bad arguments without touching salt-api (salt-api simulator)") {
    SaltPlugin salt("http://127.0.0.1:1");  // nothing listens: check must not need it
    REQUIRE(salt.plugin);
    struct Case {
        const char* op;
        const char* args;
    };
    const Case bad[] = {
        {"ping", R"({})"},
        {"ping", R"({"targets":"web1"})"},
        {"ping", R"({"targets":[]})"},
        {"ping", R"({"targets":[1]})"},
        {"facter", R"({"targets":["web*"]})"},
        {"service", R"({"targets":["w"],"state":0})"},
        {"service", R"({"targets":["w"],"name":"-x","state":0})"},
        {"service", R"({"targets":["w"],"name":"a b","state":0})"},
        {"service", R"({"targets":["w"],"name":"nginx","state":3})"},
        {"service", R"({"targets":["w"],"name":"nginx"})"},
        {"service", R"({"targets":["w"],"name":"nginx","state":0,"graceful":"maybe"})"},
        {"execute", R"({"targets":["w"]})"},
        {"execute", R"({"targets":["w"],"cmd":""})"},
        {"execute", R"({"targets":["w"],"cmd":"ls","argv":[]})"},  // exed sends both: argv is checked
        {"execute", R"({"targets":["w"],"argv":[]})"},
        {"execute", R"({"targets":["w"],"argv":["ls",2]})"},
        {"deploy", R"({"targets":["w"]})"},
        {"deploy", R"({"targets":["w"],"role":"../etc"})"},
        {"deploy", R"({"targets":["w"],"role":"nginx","partial":"a/b"})"},
        {"deploy", R"({"targets":["w"],"role":"nginx","extra_vars":[1]})"},
        {"targets", R"({"pattern":5})"},
        {"ping", "not json"},
    };
    for (auto& c : bad) {
        CAPTURE(c.op);
        CAPTURE(c.args);
        CHECK(salt.plugin->check(c.op, c.args).status == EXED_ERR_BAD_INPUT);
    }
    const Case good[] = {
        {"targets", R"({})"},
        {"ping", R"({"targets":["web1.example.com"]})"},
        {"service", R"({"targets":["w"],"name":"nginx@1.service","state":"2","graceful":"true"})"},
        {"execute", R"({"targets":["w"],"argv":["ls","-l"]})"},
        {"deploy", R"({"targets":["w"],"role":"nginx","partial":"reconfig","extra_vars":{"a":1}})"},
        {"deploy", R"({"targets":["w"],"role":"nginx","partial":null,"extra_vars":null})"},
    };
    for (auto& c : good) {
        CAPTURE(c.op);
        CAPTURE(c.args);
        CHECK(salt.plugin->check(c.op, c.args).ok());
    }
}
