// The SDK's promises, against a real exed: a plugin built against the SDK
// 1.0 headers exactly as released (tests/sdk-1.0) runs in today's host, and
// an SDK 1.1 plugin's unimplemented op is a clear JSON error, not a crash.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <Poco/JSON/Array.h>

using namespace exed::test;

TEST_CASE("a plugin built against the SDK 1.0 headers as released loads and runs a job end to end") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url(), "", test_plugin_dir("sdk10")));
    exed.start();
    auto plugins = http("GET", exed.port(), "/plugins").json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(plugins->size() == 1);
    CHECK(plugins->getObject(0)->getValue<std::string>("abi") == "1.0");
    CHECK(plugins->getObject(0)->getValue<std::string>("path").find("/sdk10/") != std::string::npos);
    // Sync: expansion, check and the run itself through the 1.0 table.
    auto r = http("GET", exed.port(), "/execute?target=node*&cmd=echo%20compatible");
    REQUIRE(r.status == 200);
    CHECK(r.object()->size() == 3);
    CHECK(r.object()->getObject("node2")->getValue<std::string>("stdout") == "compatible\n");
    // Async, followed to its end; the plugin's check still refuses bad input.
    r = http("POST", exed.port(), "/ping", R"({"targets":["node1","web2"]})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    LineStream follow(exed.port(), "/jobs/" + jid + "?follow=1");
    std::string line, last;
    while (follow.next(line)) last = line;
    CHECK(last.find("\"status\":\"failed\"") != std::string::npos);  // web2 is down
    CHECK(last.find("failed on 1 host(s): web2") != std::string::npos);
    r = http("POST", exed.port(), "/deploy", R"({"targets":["node1"],"role":"missing"})");
    CHECK(r.status == 404);
}

TEST_CASE("an op the executor does not implement answers 501 naming executor and op and exed stays up") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url(), "[runner]\nexecutor = partial\n",
                                 test_plugin_dir("partial")));
    exed.start();
    auto r = http("POST", exed.port(), "/deploy", R"({"targets":["p1"],"role":"web"})");
    CHECK(r.status == 501);
    CHECK(r.message() == "executor 'partial' does not implement operation 'deploy'");
    r = http("GET", exed.port(), "/facter?target=p1");
    CHECK(r.status == 501);
    CHECK(r.message() == "executor 'partial' does not implement operation 'facter'");
    CHECK(http("GET", exed.port(), "/jobs").body == "[]");  // refused before a job exists
    // Inherited from the plugin's base class, and its own: both run.
    r = http("GET", exed.port(), "/ping?target=*");
    REQUIRE(r.status == 200);
    CHECK(r.body == R"({"p1":{"status":0},"p2":{"status":0}})");
    r = http("GET", exed.port(), "/execute?target=p2&cmd=true");
    REQUIRE(r.status == 200);
    CHECK(r.body == R"({"p2":{"status":0,"stdout":"partial ran it"}})");
    CHECK(http("GET", exed.port(), "/health").status == 200);
}
