// Shovey jobs through agents (issue 17): node status comes from the agent
// executor's connection table (its `nodes` op), so a node is up once its
// agent connected and down once the agent was killed, within one
// status_interval; quorum counts it down; a job runs on every up node and
// its output and exit status reach the job document and the stream, the
// output while the command still runs.
// Real exed (executor = agent), real redis-server, real `exed agent`s.
#include "integration/agent_support.hpp"
#include "integration/shovey_support.hpp"

#include <doctest/doctest.h>

using namespace exed::test;

namespace {

std::string server_of(const AgentSite& site) { return "http://127.0.0.1:" + std::to_string(site.agent_port); }

// status_interval 1 s; `both` writes to stdout and stderr, `fails` exits 3,
// `gated` writes a line, waits for the file go in the site's dir (at most a
// minute), writes two more.
// The same lines are the agents' [agent.commands]: a Shovey command
// travels as its name and the node runs its own definition (issue 24).
std::string commands(const AgentSite& site) {
    return "both = sh -c 'echo out; echo err >&2'\nfails = sh -c 'echo no; exit 3'\n"
           "gated = sh -c 'echo first; i=0; while [ ! -e " + site.dir.file("go") +
           " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo second >&2; echo third'\n";
}

std::string shovey_config(const AgentSite& site, const SharedRedis& redis) {
    return site.exed_config(redis) + "\n[shovey]\nstatus_interval = 1\ndown_after = 5\n[shovey.commands]\n" +
           commands(site);
}

Poco::JSON::Object::Ptr stream_from(int port, const std::string& id, const std::string& node, const std::string& type,
                                    int64_t sequence) {
    auto r = http("GET", port, "/shovey/stream/" + id + "/" + node + "?output_type=" + type +
                                   "&sequence=" + std::to_string(sequence));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.object();
}

std::string stream_output(int port, const std::string& id, const std::string& node, const std::string& type) {
    auto r = http("GET", port, "/shovey/stream/" + id + "/" + node + "?output_type=" + type);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.object()->getValue<bool>("is_last"));
    return r.object()->getValue<std::string>("output");
}

}  // namespace

TEST_CASE("shovey through agents: node status follows connections, quorum counts killed agents down") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(shovey_config(site, redis));
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true",
                      commands(site));
    AgentProcess web2(server_of(site), "web2", site.key + ".pub", site.token_file, "allow_exec = true",
                      commands(site));
    // Never connected: never listed, not a node.
    CHECK(http("GET", port, "/status/node/web1/latest").status == 404);
    web1.start();
    web2.start();
    REQUIRE_MESSAGE(eventually([&] { return node_status(port, "web1") == "up" && node_status(port, "web2") == "up"; }, 20),
                    std::string(web1.log() + web2.log()));
    auto all = http("GET", port, "/status/all/nodes").json().extract<Poco::JSON::Array::Ptr>();
    CHECK(all->size() == 2);

    // A job on every up node: output, stderr and exit status of each.
    std::string id = create_job(port, R"({"command":"both","nodes":["web1","web2"]})");
    auto doc = wait_job(port, id, "complete", 30);
    CHECK((nodes_in(doc, "succeeded") == std::vector<std::string>{"web1", "web2"}));
    for (auto node : {"web1", "web2"}) {
        auto run = run_doc(port, id, node);
        CHECK(run->getValue<std::string>("output") == "out\n");
        CHECK(run->getValue<std::string>("stderr") == "err\n");
        CHECK(run->getValue<int>("exit_status") == 0);
        CHECK(stream_output(port, id, node, "stdout") == "out\n");
        CHECK(stream_output(port, id, node, "stderr") == "err\n");
    }
    id = create_job(port, R"({"command":"fails","nodes":["web1"]})");
    doc = wait_job(port, id, "complete", 30);
    CHECK((nodes_in(doc, "failed") == std::vector<std::string>{"web1"}));
    CHECK(run_doc(port, id, "web1")->getValue<int>("exit_status") == 3);
    CHECK(stream_output(port, id, "web1", "stdout") == "no\n");

    // kill -9: the socket closes, the executor says down, the next round
    // records it (down_after = 5 is for pinged nodes, not for these).
    web2.stop(SIGKILL);
    REQUIRE(eventually([&] { return node_status(port, "web2") == "down"; }, 10));
    CHECK(node_status(port, "web1") == "up");
    auto history = http("GET", port, "/status/node/web2/all").json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(history->size() >= 2);
    CHECK(history->getObject(0)->getValue<std::string>("status") == "down");
    CHECK(history->getObject(history->size() - 1)->getValue<std::string>("status") == "up");

    // The down node is a known node that counts down: 100% cannot be met...
    id = create_job(port, R"({"command":"both","nodes":["web1","web2"]})");
    doc = wait_job(port, id, "quorum_failed", 10);
    CHECK((nodes_in(doc, "down") == std::vector<std::string>{"web2"}));
    CHECK((nodes_in(doc, "cancelled") == std::vector<std::string>{"web1"}));
    // ... 50% runs on web1 only.
    id = create_job(port, R"({"command":"both","nodes":["web1","web2"],"quorum":"50%"})");
    doc = wait_job(port, id, "complete", 30);
    CHECK((nodes_in(doc, "succeeded") == std::vector<std::string>{"web1"}));
    CHECK((nodes_in(doc, "down") == std::vector<std::string>{"web2"}));

    // The agent comes back: up again.
    AgentProcess again(server_of(site), "web2", site.key + ".pub", site.token_file, "allow_exec = true",
                      commands(site));
    again.start();
    CHECK(eventually([&] { return node_status(port, "web2") == "up"; }, 20));
}

TEST_CASE("shovey through agents: a running command's output reaches the stream as it is produced") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(shovey_config(site, redis));
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true",
                      commands(site));
    web1.start();
    REQUIRE_MESSAGE(eventually([&] { return node_status(port, "web1") == "up"; }, 20), web1.log());

    std::string id = create_job(port, R"({"command":"gated","nodes":["web1"]})");
    // Before the command goes on: its first line, and more is to come.
    Poco::JSON::Object::Ptr live;
    REQUIRE(eventually([&] {
        live = stream_from(port, id, "web1", "stdout", 0);
        return live->getValue<std::string>("output") == "first\n";
    }, 20));
    CHECK_FALSE(live->getValue<bool>("is_last"));
    CHECK(live->getValue<int64_t>("last_seq") == 1);
    CHECK(run_doc(port, id, "web1")->getValue<std::string>("status") == "running");
    CHECK(run_doc(port, id, "web1")->getValue<std::string>("output") == "first\n");

    site.dir.write("go", "");
    wait_job(port, id, "complete", 30);
    // Ended: the chunks after the one read live, numbered as they were then.
    auto rest = stream_from(port, id, "web1", "stdout", 2);
    CHECK(rest->getValue<std::string>("output") == "third\n");
    CHECK(rest->getValue<bool>("is_last"));
    CHECK(stream_from(port, id, "web1", "stdout", 0)->getValue<std::string>("output") == "first\nthird\n");
    // Two pipes: the order of "second" (stderr) and "third" (stdout) is the
    // order the agent read them in, not necessarily the order written.
    auto both = stream_from(port, id, "web1", "both", 0)->getValue<std::string>("output");
    CHECK((both == "first\nsecond\nthird\n" || both == "first\nthird\nsecond\n"));
    CHECK(stream_from(port, id, "web1", "stderr", 0)->getValue<std::string>("output") == "second\n");
}

TEST_CASE("shovey through agents: nodes of a restarted exed whose agents did not come back are down") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(shovey_config(site, redis));
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true",
                      commands(site));
    web1.start();
    REQUIRE(eventually([&] { return node_status(port, "web1") == "up"; }, 20));
    exed.stop();  // its connection table goes with it; web1's "up" stays in redis
    web1.stop(SIGKILL);
    exed.start();
    port = exed.port();
    CHECK(eventually([&] { return node_status(port, "web1") == "down"; }, 10));
}
