// The Shovey face behind the tokens (issue 15 over issue 16): a Shovey job
// runs commands, so it needs the run scope and every node within the
// token's patterns; its jobs and node statuses are read only by callers
// whose patterns cover them. Real exed, real redis-server, the test
// executor plugin (TEST PLUGIN: hosts node1..node3).
#include "security_support.hpp"

#include <Poco/JSON/Array.h>

#include <fstream>

using namespace exed::test;

namespace {

const char* kShovey = "[shovey]\nstatus_interval = 1\ndown_after = 2\n[shovey.commands]\nhello = echo hello\n";

}  // namespace

TEST_CASE("shovey: create and cancel need the run scope and the nodes; reads show only the caller's nodes") {
    SharedRedis redis;
    Token admin = make_token("ops", "admin", "*");
    Token reader = make_token("viewer", "read", "*");
    Token one = make_token("node1-team", "read,run", "node1");
    ExedProcess exed(token_config(redis.url(), kShovey));
    {
        std::ofstream out(exed.dir().file("tokens"), std::ios::trunc);
        for (auto& t : {admin, reader, one}) out << t.line << "\n";
    }
    exed.start();
    int port = exed.port();
    auto call = [&](const std::string& m, const std::string& p, const std::string& b, const Token& t) {
        return http(m, port, p, b, bearer(t));
    };
    const std::string both = R"({"command":"hello","nodes":["node1","node2"]})";

    // Before: a read-only token ran commands through POST /shovey/jobs.
    auto r = call("POST", "/shovey/jobs", both, reader);
    CHECK(r.status == 403);
    CHECK(r.body.find("lacks the 'run' scope") != std::string::npos);
    CHECK(http("POST", port, "/shovey/jobs", both).status == 401);
    // node2 is outside node1-team's patterns: refused before any job exists.
    r = call("POST", "/shovey/jobs", both, one);
    CHECK(r.status == 403);
    CHECK(r.body.find("node2") != std::string::npos);
    CHECK(call("GET", "/shovey/jobs", "", admin).json().extract<Poco::JSON::Array::Ptr>()->size() == 0);

    r = call("POST", "/shovey/jobs", both, admin);
    REQUIRE(r.status == 201);
    std::string theirs = r.json().extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("id");
    r = call("POST", "/shovey/jobs", R"({"command":"hello","nodes":["node1"]})", one);
    REQUIRE(r.status == 201);
    std::string mine = r.json().extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("id");

    auto listed = call("GET", "/shovey/jobs", "", one).json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(listed->size() == 1);
    CHECK(listed->getElement<std::string>(0) == mine);
    CHECK(call("GET", "/shovey/jobs", "", reader).json().extract<Poco::JSON::Array::Ptr>()->size() == 2);
    CHECK(call("GET", "/shovey/jobs/" + mine, "", one).status == 200);
    CHECK(call("GET", "/shovey/jobs/" + theirs, "", one).status == 404);
    CHECK(call("GET", "/shovey/jobs/" + theirs + "/node1", "", one).status == 404);
    CHECK(call("GET", "/shovey/stream/" + theirs + "/node1", "", one).status == 404);
    CHECK(call("PUT", "/shovey/jobs/cancel", R"({"run_id":")" + theirs + R"("})", one).status == 403);
    CHECK(call("PUT", "/shovey/jobs/cancel", R"({"run_id":")" + theirs + R"("})", reader).status == 403);

    CHECK(call("GET", "/status/node/node2/latest", "", one).status == 404);
    auto nodes = call("GET", "/status/all/nodes", "", one).json().extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < nodes->size(); ++i)
        CHECK(nodes->getObject(i)->getValue<std::string>("node_name") == "node1");
    CHECK(call("GET", "/status/all/nodes", "", admin).json().extract<Poco::JSON::Array::Ptr>()->size() >= nodes->size());
}
