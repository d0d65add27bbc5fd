// The salt executor plugin against the salt-api SIMULATOR
// (tests/fixtures/salt_api_simulator.py): every operation, auth, failures,
// cancel and timeout. Nothing here talks to a real Salt master.
#include "integration/salt_simulator.hpp"
#include "support/recording_hooks.hpp"

#include <Poco/JSON/Parser.h>

#include <doctest/doctest.h>

#include <set>

using exed::test::RecordingHooks;
using exed::test::SaltApiSimulator;
using exed::test::SaltPlugin;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

const std::vector<std::string> three_minions = {"--minions", "web1,web2,db1", "--down", "db1"};

Object::Ptr obj(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

// The minion an event is about (events are {"<minion>": {...}}).
std::string minion_of(const std::string& event) {
    auto o = obj(event);
    REQUIRE(o->size() == 1);
    return o->begin()->first;
}

}  // namespace

TEST_CASE("targets lists accepted minion keys matching the pattern (salt-api simulator)") {
    SaltApiSimulator sim(three_minions);
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("targets", R"({"pattern":"web*"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(r.result == R"(["web1","web2"])");
    // Down minions are listed (like an inventory); pending keys are not.
    r = salt.plugin->invoke("targets", R"({"pattern":"*"})", hooks);
    CHECK(r.result == R"(["db1","web1","web2"])");
    r = salt.plugin->invoke("targets", R"({"pattern":"web2,db*"})", hooks);
    CHECK(r.result == R"(["db1","web2"])");
    r = salt.plugin->invoke("targets", R"({"pattern":"nomatch*"})", hooks);
    CHECK(r.result == "[]");
    // Answers within targets_cache reuse one key.list_all.
    CHECK(sim.lowstates("wheel", "key.list_all").size() == 1);
}

TEST_CASE("ping reports each minion as its return arrives, down ones unreachable (salt-api simulator)") {
    SaltApiSimulator sim(three_minions);
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("ping", R"({"targets":["web1","web2","db1","ghost"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    CHECK(res->size() == 4);
    CHECK(res->getObject("web1")->getValue<int>("status") == 0);
    CHECK(res->getObject("web2")->getValue<int>("status") == 0);
    CHECK(res->getObject("db1")->getValue<int>("status") == 3);
    CHECK(res->getObject("db1")->getValue<std::string>("error").find("down or unreachable") !=
          std::string::npos);
    CHECK(res->getObject("ghost")->getValue<int>("status") == 3);
    CHECK(res->getObject("ghost")->getValue<std::string>("error").find("no accepted key") !=
          std::string::npos);
    // One event per minion, each keyed by its minion.
    auto events = hooks.snapshot();
    REQUIRE(events.size() == 4);
    std::set<std::string> seen;
    for (auto& e : events) seen.insert(minion_of(e));
    CHECK(seen == std::set<std::string>{"web1", "web2", "db1", "ghost"});
    // Submitted once, asynchronously, to an explicit list; the silent minion was asked find_job.
    auto submits = sim.lowstates("local_async", "test.ping");
    REQUIRE(submits.size() == 1);
    CHECK(submits[0]->getValue<std::string>("tgt_type") == "list");
    CHECK(sim.lowstates("local", "saltutil.find_job").size() >= 1);
    CHECK(sim.count("GET", "/events") == 1);
}

TEST_CASE("facter returns the grains of each minion (salt-api simulator)") {
    SaltApiSimulator sim(three_minions);
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("facter", R"({"targets":["web1","web2"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    for (auto m : {"web1", "web2"}) {
        CHECK(res->getObject(m)->getValue<int>("state") == 0);
        CHECK(res->getObject(m)->getObject("facter")->getValue<std::string>("id") == m);
        CHECK(res->getObject(m)->getObject("facter")->getValue<std::string>("os") == "Debian");
    }
    CHECK(hooks.snapshot().size() == 2);
}

TEST_CASE("a function the minion lacks is a failure with salt's message (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1", "--unavailable", "grains.items,cmd.run_all"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("facter", R"({"targets":["web1"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto web1 = obj(r.result)->getObject("web1");
    CHECK(web1->getValue<int>("state") == 2);
    CHECK(web1->getValue<std::string>("error") == "'grains.items' is not available.");
    r = salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"true"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    web1 = obj(r.result)->getObject("web1");
    CHECK(web1->getValue<int>("status") == 2);
    CHECK(web1->getValue<std::string>("error") == "'cmd.run_all' is not available.");
}

TEST_CASE("service changes state only when needed and reports changed (salt-api simulator)") {
    // The simulator starts every minion with nginx running and ntp stopped.
    SaltApiSimulator sim({"--minions", "web1,web2"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto status_of = [&](const std::string& args, const std::string& minion = "web1") {
        auto r = salt.plugin->invoke("service", args, hooks);
        REQUIRE_MESSAGE(r.ok(), r.error);
        return obj(r.result)->getObject(minion)->getValue<int>("status");
    };
    CHECK(status_of(R"({"targets":["web1"],"name":"nginx","state":0})") == 0);
    CHECK(sim.lowstates("local_async", "service.start").empty());
    CHECK(status_of(R"({"targets":["web1"],"name":"nginx","state":1})") == 4);
    CHECK(status_of(R"({"targets":["web1"],"name":"nginx","state":1})") == 0);
    // Started where it was stopped (web1) only.
    auto both = salt.plugin->invoke("service", R"({"targets":["web1","web2"],"name":"nginx","state":0})", hooks);
    REQUIRE_MESSAGE(both.ok(), both.error);
    CHECK(obj(both.result)->getObject("web1")->getValue<int>("status") == 4);
    CHECK(obj(both.result)->getObject("web2")->getValue<int>("status") == 0);
    CHECK(sim.lowstates("local_async", "service.start").back()->getArray("tgt")->size() == 1);
    CHECK(status_of(R"({"targets":["web1"],"name":"nginx","state":2})") == 4);
    CHECK(sim.lowstates("local_async", "service.restart").size() == 1);
    CHECK(status_of(R"({"targets":["web1"],"name":"nginx","state":2,"graceful":true})") == 4);
    CHECK(sim.lowstates("local_async", "service.reload").size() == 1);
    // Reloading a stopped service fails on the minion: salt answers false.
    CHECK(status_of(R"({"targets":["web1"],"name":"ntp","state":"2","graceful":1})") == 2);
    // An unknown service: service.start answers false.
    auto r = salt.plugin->invoke("service", R"({"targets":["web1"],"name":"nosuch","state":0})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto web1 = obj(r.result)->getObject("web1");
    CHECK(web1->getValue<int>("status") == 2);
    CHECK(web1->getValue<std::string>("error").find("service.start nosuch failed") == 0);
    // Option injection is refused before anything reaches salt.
    auto before = sim.lowstates().size();
    r = salt.plugin->invoke("service", R"({"targets":["web1"],"name":"--now","state":0})", hooks);
    CHECK(r.status == EXED_ERR_BAD_INPUT);
    CHECK(sim.lowstates().size() == before);
}

TEST_CASE("execute runs cmd.run_all without a shell and reports rtc and output (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1,web2"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("execute", R"({"targets":["web1","web2"],"cmd":"echo hello 'big world'"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    for (auto m : {"web1", "web2"}) {
        CHECK(res->getObject(m)->getValue<int>("status") == 4);
        CHECK(res->getObject(m)->getValue<int>("rtc") == 0);
        CHECK(res->getObject(m)->getValue<std::string>("stdout") == "hello big world");
    }
    CHECK(hooks.snapshot().size() == 2);
    auto low = sim.lowstates("local_async", "cmd.run_all").at(0);
    CHECK(low->getObject("kwarg")->getValue<bool>("python_shell") == false);
    // No shell: metacharacters are plain arguments.
    r = salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"echo a; touch /tmp/x"})", hooks);
    CHECK(obj(r.result)->getObject("web1")->getValue<std::string>("stdout") == "a; touch /tmp/x");
    // An exact argv list, a failing command, stderr.
    r = salt.plugin->invoke(
        "execute", R"({"targets":["web1"],"argv":["sh","-c","echo oops >&2; exit 3"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto web1 = obj(r.result)->getObject("web1");
    CHECK(web1->getValue<int>("status") == 2);
    CHECK(web1->getValue<int>("rtc") == 3);
    CHECK(web1->getValue<std::string>("stderr") == "oops");
    // A command that cannot start: salt's string return becomes the error.
    r = salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"/no/such/binary"})", hooks);
    web1 = obj(r.result)->getObject("web1");
    CHECK(web1->getValue<int>("status") == 2);
    CHECK(web1->getValue<std::string>("error").find("Unable to run command") != std::string::npos);
}

TEST_CASE("a job outliving salt's timeout is waited for, not called unreachable (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1"});
    SaltPlugin salt(sim.url());  // timeout = 1 s
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke("execute", R"({"targets":["web1"],"cmd":"sleep 2.5"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(obj(r.result)->getObject("web1")->getValue<int>("status") == 4);
    CHECK(sim.lowstates("local", "saltutil.find_job").size() >= 2);
}

TEST_CASE("deploy applies the role's SLS with extra_vars as pillar, an event per state (salt-api simulator)") {
    SaltApiSimulator sim({"--minions", "web1,web2,db1", "--down", "db1"});
    SaltPlugin salt(sim.url());
    REQUIRE(salt.plugin);
    RecordingHooks hooks;
    auto r = salt.plugin->invoke(
        "deploy", R"({"targets":["web1","web2","db1"],"role":"nginx","extra_vars":{"server_name":"exe.0ops.io"}})",
        hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    CHECK(res->getObject("web1")->getValue<int>("status") == 4);
    CHECK(res->getObject("web1")->getValue<int>("states") == 3);
    CHECK(res->getObject("db1")->getValue<int>("status") == 3);
    auto low = sim.lowstates("local_async", "state.apply").at(0);
    CHECK(low->getArray("arg")->getElement<std::string>(0) == "nginx");
    CHECK(low->getObject("kwarg")->getObject("pillar")->getValue<std::string>("server_name") == "exe.0ops.io");
    // Per minion: 3 state events in run order, then the summary.
    std::vector<Object::Ptr> web1;
    for (auto& e : hooks.snapshot())
        if (minion_of(e) == "web1") web1.push_back(obj(e)->getObject("web1"));
    REQUIRE(web1.size() == 4);
    CHECK(web1[0]->getValue<std::string>("name") == "nginx_pkg");
    CHECK(web1[0]->getValue<int>("status") == 4);
    CHECK(web1[1]->getValue<std::string>("name") == "nginx_conf");
    CHECK(web1[1]->getObject("return_data")->getObject("changes")->getObject("pillar")->getValue<std::string>(
              "server_name") == "exe.0ops.io");
    CHECK(web1[2]->getValue<std::string>("name") == "nginx_service");
    CHECK(web1[2]->getValue<int>("status") == 0);
    CHECK(web1[3]->getValue<int>("status") == 4);
    CHECK(web1[3]->has("states"));

    SUBCASE("partial is the sub-SLS role.partial; a failed state fails the minion") {
        RecordingHooks h2;
        r = salt.plugin->invoke(
            "deploy", R"({"targets":["web1"],"role":"nginx","partial":"reconfig","extra_vars":{"break_reload":true}})", h2);
        REQUIRE_MESSAGE(r.ok(), r.error);
        auto w = obj(r.result)->getObject("web1");
        CHECK(w->getValue<int>("status") == 2);
        CHECK(w->getValue<std::string>("error").find("nginx_reload") == 0);
        CHECK(sim.lowstates("local_async", "state.apply").back()->getArray("arg")->getElement<std::string>(0) ==
              "nginx.reconfig");
    }
    SUBCASE("a role with no SLS fails with salt's message") {
        RecordingHooks h2;
        r = salt.plugin->invoke("deploy", R"({"targets":["web1"],"role":"nosuchrole"})", h2);
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(obj(r.result)->getObject("web1")->getValue<std::string>("error") ==
              "No matching sls found for 'nosuchrole' in env 'base'");
    }
}
