// The Shovey face over the test executor plugin (TEST PLUGIN: hosts from
// its config, execute runs the command locally): bad input, many jobs,
// many nodes, and the node check shared by several exed processes. Real
// exed processes and a real redis-server.
#include "shovey_support.hpp"

#include <fmt/format.h>

#include <chrono>
#include <tuple>

using namespace exed::test;

namespace {

const char* kShovey =
    "[shovey]\nstatus_interval = 1\ndown_after = 2\n"
    "[shovey.commands]\nhello = echo hello\nsleepy = sleep 20\n";  // an orphan of a killed worker ends by itself

std::string config(const SharedRedis& redis, const std::string& extra = "") {
    return test_config(redis.url(), std::string(kShovey) + extra);
}

}  // namespace

TEST_CASE("api: every bad input is a 4xx JSON message") {
    SharedRedis redis;
    ExedProcess exed(config(redis));
    exed.start();
    int port = exed.port();
    REQUIRE(eventually([&] { return node_status(port, "node1") == "up"; }, 30));
    std::string id = create_job(port, R"({"command":"hello","nodes":["node1"]})");

    // method, path, body, status, part of the message
    std::vector<std::tuple<std::string, std::string, std::string, int, std::string>> cases = {
        {"POST", "/shovey/jobs", R"({"command":"rm","nodes":["node1"]})", 400, "unknown command 'rm'"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1","nope"]})", 400, "unknown node(s): nope"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":[]})", 400, "nodes must not be empty"},
        {"POST", "/shovey/jobs", R"({"command":"hello"})", 400, "nodes is required"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":"node1"})", 400, "nodes must be an array"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":[1]})", 400, "nodes must be an array"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node*"]})", 400, "invalid node name"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1","node1"]})", 400, "given twice"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1"],"quorum":"150%"})", 400, "over 100%"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1"],"quorum":"lots"})", 400, "malformed"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1"],"quorum":2})", 400, "quorum of 2"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1"],"quorum":-1})", 400, "quorum of -1"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1"],"quorum":[1]})", 400, "quorum must be"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1"],"run_timeout":0})", 400, "run_timeout"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1"],"run_timeout":"5"})", 400, "run_timeout"},
        {"POST", "/shovey/jobs", R"({"command":7,"nodes":["node1"]})", 400, "command must be a string"},
        {"POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1"],"shell":true})", 400, "unknown field 'shell'"},
        {"POST", "/shovey/jobs", R"({"command":)", 400, "malformed JSON"},
        {"POST", "/shovey/jobs", R"([1,2])", 400, "JSON object"},
        {"POST", "/shovey/jobs", "", 400, "JSON object body is required"},
        {"GET", "/shovey/jobs?limit=0", "", 400, "limit"},
        {"GET", "/shovey/jobs?cursor=abc", "", 400, "cursor"},
        {"GET", "/shovey/jobs?color=red", "", 400, "color"},
        {"GET", "/shovey/jobs/00000000-0000-0000-0000-000000000000", "", 404, "no such shovey job"},
        {"GET", "/shovey/jobs/..%2F..", "", 404, "no such shovey job"},
        {"GET", "/shovey/jobs/" + id + "/node2", "", 404, "not part of shovey job"},
        {"GET", "/shovey/stream/" + id + "/node1?output_type=all", "", 400, "output_type"},
        {"GET", "/shovey/stream/" + id + "/node1?sequence=-1", "", 400, "sequence"},
        {"GET", "/shovey/stream/" + id + "/node1?sequence=x", "", 400, "sequence"},
        {"GET", "/shovey/stream/nope/node1", "", 404, "no such shovey job"},
        {"PUT", "/shovey/jobs/cancel", R"({"nodes":[]})", 400, "run_id must be a string"},
        {"PUT", "/shovey/jobs/cancel", R"({"run_id":"nope","nodes":[]})", 404, "no such shovey job"},
        {"PUT", "/shovey/jobs/cancel", R"({"run_id":")" + id + R"(","nodes":["node9"]})", 404, "not part of"},
        {"PUT", "/shovey/jobs/cancel", R"({"run_id":")" + id + R"(","nodes":{}})", 400, "nodes must be an array"},
        {"DELETE", "/shovey/jobs/" + id, "", 405, "not allowed"},
        {"GET", "/status/node/nope/latest", "", 404, "no status for node nope"},
        {"GET", "/status/node/nope/all", "", 404, "no status for node nope"},
        {"GET", "/status/node/%2A/latest", "", 404, "no status for node"},
    };
    for (auto& [method, path, body, status, message] : cases) {
        CAPTURE(method);
        CAPTURE(path);
        CAPTURE(body);
        auto r = http(method, port, path, body);
        CHECK(r.status == status);
        CHECK(r.header("Content-Type").find("application/json") == 0);
        CHECK(r.message().find(message) != std::string::npos);
    }
    std::string many = R"({"command":"hello","nodes":[)";
    for (int i = 0; i < 1001; ++i) many += fmt::format("{}\"n{}\"", i ? "," : "", i);
    auto r = http("POST", port, "/shovey/jobs", many + "]}");
    CHECK(r.status == 400);
    CHECK(r.message().find("too many nodes") != std::string::npos);
    // None of that created a job.
    CHECK(http("GET", port, "/shovey/jobs").json().extract<Poco::JSON::Array::Ptr>()->size() == 1);
}

TEST_CASE("api: 1000 jobs are listed newest first in pages") {
    SharedRedis redis;
    ExedProcess exed(config(redis));
    exed.start();
    int port = exed.port();
    REQUIRE(eventually([&] { return node_status(port, "web2") == "down"; }, 30));
    // web2 is down: every job fails its quorum at once, so nothing runs.
    std::vector<std::string> made;
    for (int i = 0; i < 1000; ++i) made.push_back(create_job(port, R"({"command":"hello","nodes":["web2"]})"));
    auto all = http("GET", port, "/shovey/jobs").json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(all->size() == 1000);
    for (size_t i = 0; i < 1000; ++i) CHECK(all->getElement<std::string>(i) == made[999 - i]);

    std::vector<std::string> paged;
    std::string cursor;
    int pages = 0;
    do {
        auto r = http("GET", port, "/shovey/jobs?limit=300" + (cursor.empty() ? "" : "&cursor=" + cursor));
        REQUIRE(r.status == 200);
        auto page = r.json().extract<Poco::JSON::Array::Ptr>();
        CHECK(page->size() <= 300);
        for (size_t i = 0; i < page->size(); ++i) paged.push_back(page->getElement<std::string>(i));
        cursor = r.header("X-Next-Cursor");
        ++pages;
    } while (!cursor.empty() && pages < 10);
    CHECK(pages == 4);
    REQUIRE(paged.size() == 1000);
    for (size_t i = 0; i < 1000; ++i) CHECK(paged[i] == made[999 - i]);
}

TEST_CASE("api: a job on 100 nodes") {
    SharedRedis redis;
    std::string hosts, down;
    for (int i = 1; i <= 100; ++i) hosts += fmt::format("{}n{:03}", i > 1 ? "," : "", i);
    for (int i = 97; i <= 100; ++i) down += fmt::format("{}n{:03}", i > 97 ? "," : "", i);
    ExedProcess exed(config(redis, "[runner]\nconcurrency = 4\n[test]\nhosts = " + hosts + "\ndown = " + down + "\n"));
    exed.start();
    int port = exed.port();
    REQUIRE(eventually([&] { return node_status(port, "n001") == "up" && node_status(port, "n100") == "down"; }, 30));
    std::string nodes;
    for (int i = 1; i <= 100; ++i) nodes += fmt::format("{}\"n{:03}\"", i > 1 ? "," : "", i);
    std::string id = create_job(port, R"({"command":"hello","quorum":"90%","nodes":[)" + nodes + "]}");
    auto doc = wait_job(port, id, "complete", 240);
    CHECK(doc->getValue<std::string>("status") == "complete");
    CHECK(nodes_in(doc, "succeeded").size() == 96);
    CHECK(nodes_in(doc, "down") == std::vector<std::string>{"n097", "n098", "n099", "n100"});
    CHECK(run_doc(port, id, "n050")->getValue<std::string>("output") == "hello\n");
    auto all = http("GET", port, "/status/all/nodes").json().extract<Poco::JSON::Array::Ptr>();
    CHECK(all->size() == 100);
}

TEST_CASE("api: node checks run one at a time across exed processes sharing a redis") {
    SharedRedis redis;
    ExedProcess a(config(redis)), b(config(redis));
    auto t0 = std::chrono::steady_clock::now();
    a.start();
    b.start();
    std::this_thread::sleep_for(std::chrono::seconds(6));
    auto history = http("GET", a.port(), "/status/node/node1/all").json().extract<Poco::JSON::Array::Ptr>();
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Checks start at least status_interval (1 s) apart whoever runs them:
    // at most one per second elapsed, plus the first. Two processes
    // checking on their own would record about twice that.
    CHECK(history->size() >= 1);
    CHECK(double(history->size()) <= elapsed + 1);
    // Both processes serve the same status.
    CHECK(http("GET", b.port(), "/status/node/node1/latest").object()->getValue<std::string>("status") == "up");
}

TEST_CASE("api: the node check's ping is prepared as a ping job is: the executor's check refuses both") {
    // One operation path (docs/architecture.md): the check's ping goes
    // through the operations core's preparation, the executor's check
    // included, as GET /ping's job does; before issue 25 it called the
    // executor with a document of its own that no check saw.
    SharedRedis redis;
    const std::string refusal = "the test executor refuses every ping";
    ExedProcess exed(config(redis, "[test]\nrefuse_ping = " + refusal + "\n"));
    exed.start();
    int port = exed.port();
    auto sync = http("GET", port, "/ping?target=node1");
    CHECK(sync.status == 400);
    CHECK(sync.body.find(refusal) != std::string::npos);
    CHECK(eventually([&] { return exed.log().find("node check: " + refusal) != std::string::npos; }, 30));
    CHECK(node_status(port, "node1").empty());  // the refused check recorded nothing
}

TEST_CASE("api: a run whose worker dies still ends - failed with the reason") {
    SharedRedis redis;
    ExedProcess api(config(redis, "[runner]\nconcurrency = 0\n")), w1(config(redis)), w2(config(redis));
    api.start();
    int port = api.port();
    REQUIRE(eventually([&] { return node_status(port, "node1") == "up"; }, 30));
    w1.start(true);
    std::string id = create_job(port, R"({"command":"sleepy","nodes":["node1"]})");
    REQUIRE(eventually([&] { return run_doc(port, id, "node1")->getValue<std::string>("status") == "running"; }, 30));
    // Only w1 could take it; w2 is there to reclaim it after w1's lease.
    w2.start(true);
    w1.kill9();
    auto doc = wait_job(port, id, "complete", 60);
    CHECK(doc->getValue<std::string>("status") == "complete");
    CHECK(nodes_in(doc, "failed") == std::vector<std::string>{"node1"});
    CHECK(run_doc(port, id, "node1")->getValue<std::string>("error").find("was lost") != std::string::npos);
}
