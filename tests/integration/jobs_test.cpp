// Jobs through the API: follow (NDJSON, SSE, resume), locks, cancel,
// run_timeout, delete, TTL and pagination, against a real redis-server.
#include "jobs/model.hpp"
#include "jobs/store.hpp"
#include "support/fixtures.hpp"
#include "support/http_client.hpp"
#include "support/procs.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/String.h>

#include <set>

#include <doctest/doctest.h>

#include <thread>

using namespace exed::test;

namespace {

struct Api {
    SharedRedis redis;
    ExedProcess exed;
    explicit Api(const std::string& extra = "") : exed(test_config(redis.url(), extra)) { exed.start(); }
    HttpResponse get(const std::string& p) { return http("GET", exed.port(), p); }
    HttpResponse post(const std::string& p, const std::string& b = "") {
        return http("POST", exed.port(), p, b);
    }
    std::string submit(const std::string& op, const std::string& body) {
        auto r = post("/" + op, body);
        REQUIRE_MESSAGE(r.status == 201, r.body);
        return r.object()->getValue<std::string>("jid");
    }
    Poco::JSON::Object::Ptr job(const std::string& jid) { return get("/jobs/" + jid).object(); }
    // Waits until the job's status is one of `want` (comma list); returns it.
    std::string wait_status(const std::string& jid, const std::string& want, int seconds = 20) {
        std::string st;
        for (int i = 0; i < seconds * 20; ++i) {
            st = job(jid)->getValue<std::string>("status");
            if (("," + want + ",").find("," + st + ",") != std::string::npos) return st;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return st;
    }
};

std::vector<Poco::JSON::Object::Ptr> read_ndjson(LineStream& s) {
    std::vector<Poco::JSON::Object::Ptr> out;
    std::string line;
    while (s.next(line)) {
        if (line.empty()) continue;
        out.push_back(Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>());
    }
    return out;
}

}  // namespace

TEST_CASE("follow streams the header, each host's event as it happens, and the end") {
    Api api;
    // node1 answers after 1 s, node2 after 2 s: events must arrive in between.
    std::string jid = api.submit("execute", R"({"targets":["node1","node2"],"cmd":"sleep 1"})");
    LineStream s(api.exed.port(), "/jobs/" + jid + "?follow=1");
    CHECK(s.status() == 200);
    CHECK(s.header("Content-Type") == "application/x-ndjson");
    CHECK(Poco::icompare(s.header("Connection"), "close") == 0);  // the body ends with the connection
    std::string line;
    REQUIRE(s.next(line));
    auto header = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
    CHECK(header->getValue<std::string>("event") == "job");
    CHECK(header->getObject("data")->getValue<std::string>("operate") == "execute");
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, double>> host_events;
    std::string end_status;
    while (s.next(line)) {
        auto ev = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
        double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        CHECK(!ev->getValue<std::string>("id").empty());
        auto type = ev->getValue<std::string>("event");
        if (type == "host") host_events.push_back({ev->getObject("data")->begin()->first, at});
        if (type == "end") end_status = ev->getObject("data")->getValue<std::string>("status");
    }
    REQUIRE(host_events.size() == 2);
    CHECK(host_events[0].first == "node1");
    CHECK(host_events[1].first == "node2");
    CHECK(host_events[1].second - host_events[0].second > 0.5);  // live, not batched at the end
    CHECK(end_status == "done");
}

TEST_CASE("a late follower gets everything; resume by event id; many followers") {
    Api api;
    std::string jid = api.submit("ping", R"({"targets":["node*"]})");
    CHECK(api.wait_status(jid, "done") == "done");
    LineStream all(api.exed.port(), "/jobs/" + jid + "?follow=1");
    auto events = read_ndjson(all);
    REQUIRE(events.size() == 6);  // job, state, 3 hosts, end
    CHECK(events.back()->getValue<std::string>("event") == "end");
    std::string second_host_id = events[3]->getValue<std::string>("id");
    LineStream rest(api.exed.port(), "/jobs/" + jid + "?follow=1&after=" + second_host_id);
    auto resumed = read_ndjson(rest);
    REQUIRE(resumed.size() == 3);  // job header, the third host, end
    CHECK(resumed[1]->getValue<std::string>("id") == events[4]->getValue<std::string>("id"));

    // Ten followers of one running job all see all of it.
    std::string slow = api.submit("execute", R"({"targets":["node1","node2"],"cmd":"sleep 0.5"})");
    std::vector<std::thread> ts;
    std::atomic<int> complete{0};
    for (int i = 0; i < 10; ++i)
        ts.emplace_back([&] {
            LineStream f(api.exed.port(), "/jobs/" + slow + "?follow=1");
            auto ev = read_ndjson(f);
            if (ev.size() == 5 && ev.back()->getValue<std::string>("event") == "end") ++complete;
        });
    for (auto& t : ts) t.join();
    CHECK(complete == 10);
}

TEST_CASE("server-sent events with ids and Last-Event-ID resume") {
    Api api;
    std::string jid = api.submit("ping", R"({"targets":["node1","node2"]})");
    CHECK(api.wait_status(jid, "done") == "done");
    LineStream s(api.exed.port(), "/jobs/" + jid + "?follow=1", {{"Accept", "text/event-stream"}});
    CHECK(s.header("Content-Type") == "text/event-stream");
    std::vector<std::string> ids, types;
    std::string line;
    while (s.next(line)) {
        if (line.rfind("id: ", 0) == 0) ids.push_back(line.substr(4));
        if (line.rfind("event: ", 0) == 0) types.push_back(line.substr(7));
    }
    CHECK(types == std::vector<std::string>{"job", "state", "host", "host", "end"});
    REQUIRE(ids.size() == 4);
    LineStream r(api.exed.port(), "/jobs/" + jid + "?follow=1",
                 {{"Accept", "text/event-stream"}, {"Last-Event-ID", ids[2]}});
    types.clear();
    while (r.next(line))
        if (line.rfind("event: ", 0) == 0) types.push_back(line.substr(7));
    CHECK(types == std::vector<std::string>{"job", "end"});
    CHECK(http("GET", api.exed.port(), "/jobs/" + jid + "?follow=1&after=abc").status == 400);
}

TEST_CASE("host locks: 409 naming busy hosts, released on finish and on cancel") {
    Api api;
    std::string jid = api.submit("execute", R"({"targets":["node1","node2"],"cmd":"sleep 30.25"})");
    CHECK(api.wait_status(jid, "running") == "running");
    auto r = api.post("/ping", R"({"targets":["node3","node2"]})");
    CHECK(r.status == 409);
    CHECK(r.message() == "operate conflict");
    CHECK(r.body.find("\"busy\":[\"node2\"]") != std::string::npos);
    // The pattern expands to locked hosts too (EXEd checked locks before expanding).
    CHECK(api.get("/ping?target=node*").status == 409);
    CHECK(api.get("/ping?target=node3").status == 200);  // not locked: no partial lock left
    CHECK(count_processes("sleep 30.25") == 1);  // the test executor runs hosts one by one

    // DELETE of a running job is refused, naming the cancel endpoint.
    r = http("DELETE", api.exed.port(), "/jobs/" + jid);
    CHECK(r.status == 409);
    CHECK(r.message().find("POST /jobs/" + jid + "/cancel") != std::string::npos);

    r = api.post("/jobs/" + jid + "/cancel");
    CHECK(r.status == 202);
    CHECK(api.wait_status(jid, "cancelled,failed,done") == "cancelled");
    auto job = api.job(jid);
    CHECK(job->getValue<int>("state") == 2);
    CHECK(job->getValue<std::string>("error") == "cancelled");
    CHECK(count_processes("sleep 30.25") == 0);  // the process group was killed
    CHECK(api.get("/ping?target=node2").status == 200);  // locks freed
    CHECK(api.post("/jobs/" + jid + "/cancel").status == 409);  // already ended
    CHECK(http("DELETE", api.exed.port(), "/jobs/" + jid).status == 204);
    CHECK(http("GET", api.exed.port(), "/jobs/" + jid).status == 404);
}

TEST_CASE("run_timeout kills the run and fails the job") {
    Api api;
    std::string jid = api.submit("execute", R"({"targets":["node3"],"cmd":"sleep 40.5","run_timeout":1})");
    CHECK(api.wait_status(jid, "failed,done,cancelled") == "failed");
    auto job = api.job(jid);
    CHECK(job->getValue<std::string>("error") == "run_timeout of 1 s exceeded");
    CHECK(count_processes("sleep 40.5") == 0);
    CHECK(api.get("/ping?target=node3").status == 200);
}

TEST_CASE("a queued job can be cancelled before it runs") {
    // One worker, busy: the next job waits in the queue.
    Api api("[runner]\nconcurrency = 1\n");
    std::string busy = api.submit("execute", R"({"targets":["node1"],"cmd":"sleep 20.75"})");
    CHECK(api.wait_status(busy, "running") == "running");
    std::string queued = api.submit("ping", R"({"targets":["node2"]})");
    CHECK(api.job(queued)->getValue<std::string>("status") == "queued");
    CHECK(api.job(queued)->getValue<int>("state") == 1);
    auto r = api.post("/jobs/" + queued + "/cancel");
    CHECK(r.status == 200);
    CHECK(r.object()->getValue<std::string>("status") == "cancelled");
    CHECK(api.get("/ping?target=node2").status != 409);  // its lock is gone at once
    api.post("/jobs/" + busy + "/cancel");
    CHECK(api.wait_status(busy, "cancelled") == "cancelled");
    CHECK(api.job(queued)->getValue<std::string>("status") == "cancelled");  // never ran
}

TEST_CASE("finished jobs expire after job_ttl") {
    Api api("[runner]\njob_ttl = 1\n");
    std::string jid = api.submit("ping", R"({"targets":["node1"]})");
    CHECK(api.wait_status(jid, "done") == "done");
    CHECK(api.get("/jobs").body.find(jid) != std::string::npos);
    std::this_thread::sleep_for(std::chrono::milliseconds(2200));
    CHECK(api.get("/jobs/" + jid).status == 404);
    CHECK(api.get("/jobs").body.find(jid) == std::string::npos);
}

TEST_CASE("GET /jobs pages through 10k jobs newest first with a cursor") {
    Api api;
    auto pool = api.redis.pool();
    exed::jobs::Store store(*pool, 3600);
    for (int i = 0; i < 10000; ++i) {
        exed::jobs::Job j;
        j.jid = "bulk-" + std::to_string(i);
        j.operate = "ping";
        j.created_ms = 1000 + i;
        store.create(j);
    }
    std::set<std::string> seen;
    std::string cursor;
    int pages = 0;
    std::string first;
    do {
        auto r = api.get("/jobs?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
        REQUIRE(r.status == 200);
        auto arr = r.json().extract<Poco::JSON::Array::Ptr>();
        if (pages == 0) first = arr->getElement<std::string>(0);
        for (size_t i = 0; i < arr->size(); ++i) CHECK(seen.insert(arr->getElement<std::string>(i)).second);
        cursor = r.header("X-Next-Cursor");
        ++pages;
    } while (!cursor.empty() && pages < 50);
    CHECK(seen.size() == 10000);
    CHECK(pages == 10);
    CHECK(first == "bulk-9999");
    auto detail = api.get("/jobs?limit=2&detail=1").json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(detail->size() == 2);
    CHECK(detail->getObject(0)->getValue<std::string>("jid") == "bulk-9999");
    CHECK(detail->getObject(0)->getValue<std::string>("operate") == "ping");
}

TEST_CASE("sync deadline: 504 with the jid; the job goes on and keeps its leased locks") {
    Api api("[api]\nsync_timeout = 1\n");  // lease is 3 s in test_config
    auto r = api.get("/execute?target=node1&cmd=" + q("sleep 5.5"));
    CHECK(r.status == 504);
    std::string jid = r.object()->getValue<std::string>("jid");
    CHECK(r.message().find("/jobs/" + jid + "?follow=1") != std::string::npos);
    CHECK(api.job(jid)->getValue<std::string>("status") == "running");
    // Past the 3 s lease the lock is still held: it is being renewed.
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    CHECK(api.post("/ping", R"({"targets":["node1"]})").status == 409);
    CHECK(api.wait_status(jid, "done,failed") == "done");
    CHECK(api.post("/ping", R"({"targets":["node1"]})").status == 201);
}

TEST_CASE("back-pressure: past max_queued waiting jobs, submits get 503 with Retry-After") {
    Api api("[runner]\nconcurrency = 0\nmax_queued = 3\n");  // nobody runs jobs here
    for (const char* h : {"node1", "node2", "node3"})
        CHECK(api.post("/ping", std::string(R"({"targets":[")") + h + "\"]}").status == 201);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // past the cached backlog
    auto r = api.post("/ping", R"({"targets":["web1"]})");
    CHECK(r.status == 503);
    CHECK(r.header("Retry-After") == "1");
    CHECK(r.message().find("runner.max_queued") != std::string::npos);
    CHECK(http("GET", api.exed.port(), "/ping?target=web1").status == 503);  // sync too
}
