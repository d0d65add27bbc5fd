// The REST surface against a real exed + redis-server with the test
// executor: sync/async operations, targets, plugins, and every bad input.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

using namespace exed::test;

namespace {
struct Api {
    SharedRedis redis;
    ExedProcess exed{test_config(redis.url())};
    Api() { exed.start(); }
    HttpResponse get(const std::string& p) { return http("GET", exed.port(), p); }
    HttpResponse post(const std::string& p, const std::string& b) { return http("POST", exed.port(), p, b); }
};
}  // namespace

TEST_CASE("sync operations return every matched host, async ones a jid") {
    Api api;
    auto r = api.get("/ping?target=node*");
    REQUIRE(r.status == 200);
    auto o = r.object();
    CHECK(o->size() == 3);  // EXEd returned only the first host
    for (auto h : {"node1", "node2", "node3"}) CHECK(o->getObject(h)->getValue<int>("status") == 0);
    CHECK(!r.header("X-Exed-Jid").empty());

    r = api.get("/execute?target=node1&cmd=" + q("echo '\"quoted\"' ünïcode"));
    REQUIRE(r.status == 200);
    CHECK(r.object()->getObject("node1")->getValue<std::string>("stdout") == "\"quoted\" ünïcode\n");
    CHECK(r.object()->getObject("node1")->getValue<int>("rtc") == 0);

    r = api.get("/service?target=node2&name=ntp&state=2&graceful=true");
    REQUIRE(r.status == 200);
    CHECK(r.object()->getObject("node2")->getValue<int>("status") == 4);

    r = api.get("/facter?target=web1");
    REQUIRE(r.status == 200);
    CHECK(r.object()->getObject("web1")->getObject("facter")->getValue<std::string>("hostname") == "web1");

    r = api.post("/ping", R"({"targets":["node1","web*"]})");
    REQUIRE(r.status == 201);
    CHECK(r.object()->getValue<std::string>("jid").size() == 36);
    CHECK(r.header("Location") == "/jobs/" + r.object()->getValue<std::string>("jid"));
}

TEST_CASE("a down host makes the sync answer show status 3 and the job Failure") {
    Api api;
    auto r = api.get("/ping?target=web*");
    REQUIRE(r.status == 200);
    CHECK(r.object()->getObject("web1")->getValue<int>("status") == 0);
    CHECK(r.object()->getObject("web2")->getValue<int>("status") == 3);
    auto job = api.get("/jobs/" + r.header("X-Exed-Jid")).object();
    CHECK(job->getValue<int>("state") == 2);
    CHECK(job->getValue<std::string>("error").find("web2") != std::string::npos);
}

TEST_CASE("target listing and unknown hosts") {
    Api api;
    auto r = api.get("/target?pattern=" + q("web*"));
    REQUIRE(r.status == 200);
    CHECK(r.body == R"(["web1","web2"])");
    CHECK(api.get("/targets").body == R"(["node1","node2","node3","web1","web2"])");
    CHECK(api.get("/target?pattern=nothing*").body == "[]");
    r = api.get("/ping?target=ghost");
    CHECK(r.status == 404);
    CHECK(r.message() == "no such host: ghost");
    r = api.post("/ping", R"({"targets":["node1","ghost","phantom*"]})");
    CHECK(r.status == 400);
    CHECK(r.message() == "no such host: ghost, phantom*");
}

TEST_CASE("GET /plugins, GET /release and /health") {
    Api api;
    auto r = api.get("/plugins");
    REQUIRE(r.status == 200);
    auto arr = r.json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(arr->size() == 1);
    auto p = arr->getObject(0);
    CHECK(p->getValue<std::string>("kind") == "executor");
    CHECK(p->getValue<std::string>("type") == "test");
    CHECK(p->getValue<std::string>("abi") == "1.4");
    CHECK(p->getArray("secret_args")->size() == 0);  // the test executor marks nothing secret
    CHECK(api.get("/release").body == "[]");
    CHECK(api.get("/health").status == 200);
}

TEST_CASE("every bad input gets a JSON message and the right 4xx") {
    Api api;
    struct Case {
        const char* method;
        const char* path;
        const char* body;
        int status;
        const char* message;
    };
    const Case cases[] = {
        {"POST", "/ping", "{not json", 400, "malformed JSON"},
        {"POST", "/ping", "[1,2]", 400, "the body must be a JSON object"},
        {"POST", "/ping", "", 400, "a JSON object body is required"},
        {"POST", "/ping", "{}", 400, "targets is required"},
        {"POST", "/ping", R"({"targets":"node1"})", 400, "targets must be an array"},
        {"POST", "/ping", R"({"targets":[]})", 400, "targets must not be empty"},
        {"POST", "/ping", R"({"targets":[1]})", 400, "targets must be non-empty strings"},
        {"POST", "/ping", R"({"targets":["node1"],"target":"x"})", 400, "unknown field 'target'"},
        {"POST", "/ping", R"({"targets":["node1"],"run_timeout":-1})", 400, "run_timeout must be"},
        {"POST", "/execute", R"({"targets":["node1"]})", 400, "cmd is required"},
        {"POST", "/execute", R"({"targets":["node1"],"cmd":5})", 400, "cmd must be a string"},
        {"POST", "/execute", R"({"targets":["node1"],"cmd":""})", 400, "cmd must not be empty"},
        {"POST", "/service", R"({"targets":["node1"],"name":"ntp"})", 400, "state is required"},
        {"POST", "/service", R"({"targets":["node1"],"name":"ntp","state":7})", 400, "state must be 0"},
        {"POST", "/service", R"({"targets":["node1"],"name":"ntp","state":"1"})", 400, "state must be an integer"},
        {"POST", "/service", R"({"targets":["node1"],"name":"ntp","state":1,"graceful":"yes"})", 400, "graceful must be a boolean"},
        {"POST", "/deploy", R"({"targets":["node1"]})", 400, "role is required"},
        {"POST", "/deploy", R"({"targets":["node1"],"role":"r","extra_vars":[1]})", 400, "extra_vars must be an object"},
        {"POST", "/deploy", R"({"targets":["node1"],"role":"missing"})", 404, "no such role: missing"},
        {"POST", "/release", R"({"targets":["node1"],"appname":"a","apptype":"nope","revision":"1"})", 400, "unknown apptype 'nope'"},
        {"POST", "/release", R"({"targets":["node1"],"apptype":"common","revision":"1"})", 400, "appname is required"},
        {"GET", "/ping", "", 400, "target is required"},
        {"GET", "/ping?target=node1&bogus=1", "", 400, "unknown parameter 'bogus'"},
        {"GET", "/service?target=node1&name=x&state=abc", "", 400, "state must be an integer"},
        {"GET", "/service?target=node1&name=x&state=1&graceful=maybe", "", 400, "graceful must be"},
        {"GET", "/execute?target=node1", "", 400, "cmd is required"},
        {"GET", "/jobs?limit=0", "", 400, "limit must be"},
        {"GET", "/jobs?limit=abc", "", 400, "limit must be"},
        {"GET", "/jobs?cursor=xyz", "", 400, "cursor must be"},
        {"GET", "/jobs?detail=maybe", "", 400, "detail must be"},
        {"GET", "/jobs/no-such-job", "", 404, "no such job: no-such-job"},
        {"GET", "/jobs/bad$chars", "", 404, "no such job"},
        {"DELETE", "/jobs/no-such-job", "", 404, "no such job"},
        {"POST", "/jobs/no-such-job/cancel", "", 404, "no such job"},
        {"GET", "/deploy", "", 405, "method GET not allowed on /deploy"},
        {"PUT", "/ping", "", 405, "method PUT not allowed"},
        {"DELETE", "/jobs", "", 405, "method DELETE not allowed"},
        {"GET", "/no/such/endpoint", "", 404, "no such endpoint"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.method);
        CAPTURE(c.path);
        CAPTURE(c.body);
        auto r = http(c.method, api.exed.port(), c.path, c.body);
        CHECK(r.status == c.status);
        CHECK(r.header("Content-Type") == "application/json");
        CHECK(r.message().find(c.message) != std::string::npos);
    }
    // 413: larger than max_body (1 MiB by default).
    std::string big = R"({"targets":["node1"],"cmd":")" + std::string(1100000, 'x') + "\"}";
    auto r = api.post("/execute", big);
    CHECK(r.status == 413);
    CHECK(r.message().find("larger than") != std::string::npos);
    // Nothing of the above created a job or left a lock.
    CHECK(api.get("/jobs").body == "[]");
    CHECK(api.get("/ping?target=node1").status == 200);
}

TEST_CASE("bearer token authentication when configured") {
    SharedRedis redis;
    // A repeated [api] section adds to the first one.
    ExedProcess exed(test_config(redis.url(), "[api]\nauth_token = s3cret\n"));
    exed.start();
    auto r = http("GET", exed.port(), "/jobs");
    CHECK(r.status == 401);
    CHECK(r.message().find("authentication required") != std::string::npos);
    CHECK(http("GET", exed.port(), "/jobs", "", {{"Authorization", "Bearer wrong"}}).status == 401);
    CHECK(http("GET", exed.port(), "/jobs", "", {{"Authorization", "Bearer s3cret"}}).status == 200);
}
