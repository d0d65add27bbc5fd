// The agent-facing PUTs of the Shovey spec (issue 17): this test is a
// third-party (schob-like) agent reporting its run over plain HTTP with an
// `agent`-scoped token. Only an agent for the node may report (403
// otherwise), every bad body is a 400, a run that does not exist is 404,
// one that ended is 409; the reports are what GET /shovey/jobs/<id>/<node>
// and the stream show. Real exed, real redis-server, the test executor
// plugin (TEST PLUGIN: hosts node1..node3, runs the command locally).
#include "security_support.hpp"
#include "shovey_support.hpp"

#include <Poco/JSON/Array.h>

#include <fstream>
#include <tuple>

using namespace exed::test;

namespace {

const char* kShovey = "[shovey]\nstatus_interval = 1\ndown_after = 2\n[shovey.commands]\nsleepy = sleep 4713\n";

std::string run_doc_as(int port, const std::string& id, const std::string& node, const Token& t) {
    return http("GET", port, "/shovey/jobs/" + id + "/" + node, "", bearer(t)).body;
}

// The job's document once it ended (or the last one seen).
Poco::JSON::Object::Ptr wait_job_as(int port, const std::string& id, const Token& t) {
    Poco::JSON::Object::Ptr doc;
    eventually([&] {
        doc = http("GET", port, "/shovey/jobs/" + id, "", bearer(t)).object();
        auto s = doc->getValue<std::string>("status");
        return s != "running" && s != "submitted";
    }, 20);
    return doc;
}

}  // namespace

TEST_CASE("agent reports: an agent's PUTs are its run's status and output - others are refused") {
    SharedRedis redis;
    Token admin = make_token("ops", "admin", "*");
    Token agent1 = make_token("agent-node1", "agent", "node1");
    Token agent2 = make_token("agent-node2", "agent", "node2");
    Token runner = make_token("runner", "read,run", "*");
    ExedProcess exed(token_config(redis.url(), kShovey));
    {
        std::ofstream out(exed.dir().file("tokens"), std::ios::trunc);
        for (auto& t : {admin, agent1, agent2, runner}) out << t.line << "\n";
    }
    exed.start();
    int port = exed.port();
    auto call = [&](const std::string& m, const std::string& p, const std::string& b, const Token& t) {
        return http(m, port, p, b, bearer(t));
    };
    auto up = [&](const std::string& n) {
        auto r = call("GET", "/status/node/" + n + "/latest", "", admin);
        return r.status == 200 && r.object()->getValue<std::string>("status") == "up";
    };
    REQUIRE(eventually([&] { return up("node1") && up("node2"); }, 30));
    auto r = call("POST", "/shovey/jobs", R"({"command":"sleepy","nodes":["node1","node2"]})", admin);
    REQUIRE(r.status == 201);
    std::string id = r.object()->getValue<std::string>("id");
    const std::string run1 = "/shovey/jobs/" + id + "/node1", stream1 = "/shovey/stream/" + id + "/node1";
    const std::string running = R"({"status":"running"})";
    const std::string chunk = R"({"seq":1,"output_type":"stdout","output":"x"})";

    // Who: only an agent for that node (or admin).
    CHECK(http("PUT", port, run1, running).status == 401);
    for (auto& [path, body, token] : std::vector<std::tuple<std::string, std::string, Token>>{
             {run1, running, agent2}, {stream1, chunk, agent2}, {run1, running, runner}, {stream1, chunk, runner}}) {
        r = call("PUT", path, body, token);
        CHECK_MESSAGE(r.status == 403, std::string(token.name + " " + path + ": " + r.body));
        CHECK(!r.message().empty());
    }
    CHECK(call("PUT", "/shovey/jobs/" + id + "/node2", running, agent1).status == 403);
    CHECK(call("GET", run1, "", agent1).status == 403);  // an agent token reads nothing

    // Bad bodies: 400 with a message, nothing recorded.
    std::vector<std::pair<std::string, std::string>> bad_run = {
        {R"({"status":"exploded"})", "status must be"},
        {R"({"status":"created"})", "status must be"},
        {R"({})", "status is required"},
        {R"({"status":7})", "status is required"},
        {R"({"status":"running","run_id":"someone-else"})", "run_id does not match"},
        {R"({"status":"running","node_name":"node2"})", "node_name does not match"},
        {R"({"status":"running","ack_time":"yesterday"})", "ack_time must be an RFC 3339 time"},
        {R"({"status":"running","end_time":5})", "end_time must be an RFC 3339 time"},
        {R"({"status":"succeeded","exit_status":"0"})", "exit_status must be an integer"},
        {R"({"status":"succeeded","exit_status":1.5})", "exit_status must be an integer"},
        {R"({"status":"succeeded","exit_status":99999999999})", "exit_status must be an integer"},
        {R"({"status":"running","protocol_major":1})", "protocol_major"},
        {R"({"status":"running","error":7})", "error must be a string"},
        {R"({"status":"running","shell":"rm -rf /"})", "unknown field 'shell'"},
        {R"([1])", "JSON object"},
        {R"({"status":)", "malformed JSON"},
        {"", "JSON object body is required"},
    };
    for (auto& [body, said] : bad_run) {
        r = call("PUT", run1, body, agent1);
        CHECK_MESSAGE(r.status == 400, std::string(body + " -> " + r.body));
        CHECK_MESSAGE(r.message().find(said) != std::string::npos, std::string(body + " -> " + r.body));
    }
    std::vector<std::pair<std::string, std::string>> bad_chunk = {
        {R"({"seq":0,"output_type":"stdout","output":"x"})", "seq must be an integer from 1"},
        {R"({"seq":"1","output_type":"stdout","output":"x"})", "seq must be an integer"},
        {R"({"seq":true,"output_type":"stdout","output":"x"})", "seq must be an integer"},
        {R"({"seq":99999999999,"output_type":"stdout","output":"x"})", "seq must be an integer"},
        {R"({"output_type":"stdout","output":"x"})", "seq is required"},
        {R"({"seq":1,"output_type":"both","output":"x"})", "output_type must be stdout or stderr"},
        {R"({"seq":1,"output_type":"stdout"})", "output is required"},
        {R"({"seq":1,"output_type":"stdout","output":["x"]})", "output is required"},
        {R"({"seq":1,"output_type":"stdout","output":"x","is_last":"yes"})", "is_last must be"},
        {R"({"seq":1,"output_type":"stdout","output":"x","run_id":"other"})", "run_id does not match"},
        {R"({"seq":1,"output_type":"stdout","output":"x","colour":1})", "unknown field 'colour'"},
    };
    for (auto& [body, said] : bad_chunk) {
        r = call("PUT", stream1, body, agent1);
        CHECK_MESSAGE(r.status == 400, std::string(body + " -> " + r.body));
        CHECK_MESSAGE(r.message().find(said) != std::string::npos, std::string(body + " -> " + r.body));
    }
    // No such run: 404.
    CHECK(call("PUT", "/shovey/jobs/00000000-0000-0000-0000-000000000000/node1", running, agent1).status == 404);
    CHECK(call("PUT", "/shovey/stream/00000000-0000-0000-0000-000000000000/node1", chunk, agent1).status == 404);
    CHECK(call("PUT", "/shovey/jobs/" + id + "/node3", running, admin).status == 404);  // not one of its nodes
    CHECK(run_doc_as(port, id, "node1", admin).find("\"reported\"") == std::string::npos);

    // The happy path, as schob does it: ack, output chunks, the end.
    r = call("PUT", run1, R"({"run_id":")" + id + R"(","node_name":"node1","status":"running",)"
                      R"("ack_time":"2026-12-01T06:00:00.5+01:00","protocol_major":0,"protocol_minor":1})", agent1);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.object()->getValue<std::string>("response") == "ok");
    CHECK(r.object()->getValue<std::string>("node") == "node1");
    CHECK(r.object()->getValue<std::string>("id") == id);
    auto put_chunk = [&](int seq, const std::string& type, const std::string& text) {
        return call("PUT", stream1, R"({"run_id":")" + id + R"(","node_name":"node1","seq":)" + std::to_string(seq) +
                                        R"(,"is_last":false,"output_type":")" + type + R"(","output":")" + text + "\"}",
                    agent1);
    };
    REQUIRE(put_chunk(1, "stdout", "hello ").status == 200);
    REQUIRE(put_chunk(2, "stdout", "world\\n").status == 200);
    REQUIRE(put_chunk(1, "stderr", "warn\\n").status == 200);
    r = put_chunk(2, "stdout", "DUPLICATE");  // a resend: ignored
    CHECK(r.status == 200);
    CHECK(r.body.find("\"duplicate\":true") != std::string::npos);
    REQUIRE(put_chunk(5, "stdout", "tail\\n").status == 200);  // 3 and 4 missing: allowed
    REQUIRE(put_chunk(3, "stdout", "three ").status == 200);   // 3 arrives late

    auto doc = call("GET", run1, "", admin).object();
    CHECK(doc->getValue<std::string>("status") == "running");
    CHECK(doc->getValue<std::string>("ack_time") == "2026-12-01T05:00:00.500000Z");
    CHECK(doc->getValue<std::string>("output") == "hello world\nthree tail\n");
    auto stream = [&](const std::string& query) { return call("GET", stream1 + query, "", admin).object(); };
    auto s = stream("?output_type=stdout");
    CHECK(s->getValue<std::string>("output") == "hello world\nthree tail\n");
    CHECK(s->getValue<int>("last_seq") == 5);
    CHECK(!s->getValue<bool>("is_last"));
    CHECK(stream("?output_type=stdout&sequence=3")->getValue<std::string>("output") == "three tail\n");
    CHECK(stream("?output_type=stderr")->getValue<std::string>("output") == "warn\n");
    CHECK(stream("?output_type=both")->getValue<std::string>("output") == "hello world\nwarn\ntail\nthree ");

    r = call("PUT", run1, R"({"status":"succeeded","exit_status":0,"end_time":"2026-12-01T05:00:02Z","error":""})", agent1);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    doc = call("GET", run1, "", admin).object();
    CHECK(doc->getValue<std::string>("status") == "succeeded");
    CHECK(doc->getValue<int>("exit_status") == 0);
    CHECK(doc->getValue<std::string>("end_time") == "2026-12-01T05:00:02.000000Z");
    CHECK(doc->getValue<std::string>("stderr") == "warn\n");
    CHECK(doc->getValue<bool>("reported"));
    auto gaps = doc->getArray("output_gaps");
    REQUIRE(gaps);
    REQUIRE(gaps->size() == 1);
    CHECK(gaps->getObject(0)->getValue<std::string>("output_type") == "stdout");
    CHECK(gaps->getObject(0)->getValue<int>("from") == 4);
    CHECK(gaps->getObject(0)->getValue<int>("to") == 4);
    s = stream("?output_type=stdout");
    CHECK(s->getValue<bool>("is_last"));
    auto job = call("GET", "/shovey/jobs/" + id, "", admin).object();
    CHECK((nodes_in(job, "succeeded") == std::vector<std::string>{"node1"}));
    CHECK((nodes_in(job, "running") == std::vector<std::string>{"node2"}));

    // Ended: nothing more is taken.
    r = call("PUT", run1, running, agent1);
    CHECK(r.status == 409);
    CHECK(r.message().find("has ended (succeeded)") != std::string::npos);
    CHECK(put_chunk(6, "stdout", "late").status == 409);
    // Its exed job had nothing left to do: cancelled, its sleep killed.
    std::string jid = doc->getValue<std::string>("jid");
    CHECK(eventually([&] {
        return call("GET", "/jobs/" + jid, "", admin).object()->getValue<std::string>("status") == "cancelled";
    }, 20));
    CHECK(call("GET", run1, "", admin).object()->getValue<std::string>("status") == "succeeded");

    // node2: a failure with its exit status, reported by an admin token.
    r = call("PUT", "/shovey/jobs/" + id + "/node2", R"({"status":"failed","exit_status":2,"error":"boom"})", admin);
    REQUIRE(r.status == 200);
    job = wait_job_as(port, id, admin);
    CHECK(job->getValue<std::string>("status") == "complete");
    CHECK((nodes_in(job, "failed") == std::vector<std::string>{"node2"}));
    auto node2 = call("GET", "/shovey/jobs/" + id + "/node2", "", admin).object();
    CHECK(node2->getValue<int>("exit_status") == 2);
    CHECK(node2->getValue<std::string>("error") == "boom");
}
