// Issue 24, items 8-10, through real `exed agent` processes, a real exed
// (executor = agent) and a real redis-server:
// - one argv rule: execute's cmd is split once by exed (shlex's rules) and
//   the agent gets that argv; a cmd that does not split is a 400;
// - a Shovey command travels as its name and the node runs its own
//   [agent.commands] definition (allow_exec off);
// - a known node whose agent went away is unreachable (status 3), listed
//   by /target (down with detail=1), and down for Shovey;
// - [api] secret_args = cmd masks the argv derived from cmd too.
#include "integration/agent_support.hpp"
#include "integration/shovey_support.hpp"

#include <doctest/doctest.h>

using namespace exed::test;

namespace {

std::string server_of(const AgentSite& site) { return "http://127.0.0.1:" + std::to_string(site.agent_port); }

Poco::JSON::Object::Ptr host_of(const HttpResponse& r, const std::string& host) {
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto o = r.object()->getObject(host);
    REQUIRE_MESSAGE(o, r.body);
    return o;
}

// A host's operate status in a sync answer; -1 when the host is missing
// from it (what a client saw as a KeyError).
int status_of(const HttpResponse& r, const std::string& host) {
    if (r.status != 200) return -1;
    auto o = r.object()->getObject(host);
    return o ? o->optValue<int>("status", -1) : -1;
}

// GET /target?detail=1 as {name: state}.
std::map<std::string, std::string> target_states(int port) {
    auto r = http("GET", port, "/target?detail=1");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    std::map<std::string, std::string> out;
    auto a = r.json().extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < a->size(); ++i)
        out[a->getObject(i)->getValue<std::string>("name")] = a->getObject(i)->getValue<std::string>("state");
    return out;
}

}  // namespace

TEST_CASE("agent executor: execute's cmd is split once with shell-like quoting, a cmd that does not split is a 400") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis));
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true");
    // allow_exec off: only its named commands, whose lines follow the same rule.
    AgentProcess db(server_of(site), "db", site.key + ".pub", site.token_file, "",
                    "hello = sh -c 'echo \"hello from\" the node'\n");
    web1.start();
    db.start();
    REQUIRE_MESSAGE(wait_until([&] { return listed(port, "*") == R"(["db","web1"])"; }, 20),
                    std::string(web1.log() + db.log()));

    auto h = host_of(http("GET", port, "/execute?target=web1&cmd=" + q("sh -c 'echo hi; exit 3'")), "web1");
    CHECK(h->getValue<int>("rtc") == 3);
    CHECK(h->getValue<std::string>("stdout") == "hi\n");
    CHECK(h->getValue<std::string>("stderr") == "");

    // Quotes join, '' is an empty word, a backslash escapes outside quotes;
    // nothing is expanded (no shell).
    h = host_of(http("GET", port, "/execute?target=web1&cmd=" + q(R"(printf '<%s>' a"b c"d '' x\ y "$HOME" *)")),
                "web1");
    CHECK(h->getValue<int>("rtc") == 0);
    CHECK(h->getValue<std::string>("stdout") == "<ab cd><><x y><$HOME><*>");

    // The job shows the user's cmd, and the argv that ran beside it.
    auto r = http("POST", port, "/execute", R"({"targets":["web1"],"cmd":"sh -c 'exit 0'"})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    auto job = http("GET", port, "/jobs/" + r.object()->getValue<std::string>("jid"));
    auto args = job.object()->getObject("operate_args");
    CHECK(args->getValue<std::string>("cmd") == "sh -c 'exit 0'");
    REQUIRE(args->getArray("argv"));
    CHECK(args->getArray("argv")->size() == 3);

    for (std::string bad : {"sh -c 'echo hi", "echo \"a", "echo a\\"}) {
        CAPTURE(bad);
        r = http("GET", port, "/execute?target=web1&cmd=" + q(bad));
        CHECK(r.status == 400);
        CHECK(r.object()->getValue<std::string>("message").find("cannot be split") != std::string::npos);
        Poco::JSON::Object body;
        Poco::JSON::Array targets;
        targets.add("web1");
        body.set("targets", targets);
        body.set("cmd", bad);
        std::ostringstream text;
        body.stringify(text);
        r = http("POST", port, "/execute", text.str());
        CHECK(r.status == 400);
    }

    // A single word naming the node's command runs its definition.
    h = host_of(http("GET", port, "/execute?target=db&cmd=hello"), "db");
    CHECK(h->getValue<std::string>("stdout") == "hello from the node\n");
}

TEST_CASE("shovey through agents: a named command travels as its name and the node runs its own definition") {
    AgentSite site;
    SharedRedis redis;
    // exed's definition is not what the node runs: the node's is.
    ExedProcess exed(site.exed_config(redis) +
                     "\n[shovey]\nstatus_interval = 1\n[shovey.commands]\nhello = echo the definition of exed\n"
                     "other = echo other\n");
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = false",
                      "hello = sh -c 'echo the node ran hello; exit 4'\n");
    web1.start();
    REQUIRE_MESSAGE(eventually([&] { return node_status(port, "web1") == "up"; }, 20), web1.log());

    std::string id = create_job(port, R"({"command":"hello","nodes":["web1"]})");
    auto doc = wait_job(port, id, "complete", 30);
    CHECK((nodes_in(doc, "failed") == std::vector<std::string>{"web1"}));  // exit 4
    auto run = run_doc(port, id, "web1");
    CHECK(run->getValue<std::string>("output") == "the node ran hello\n");
    CHECK(run->getValue<int>("exit_status") == 4);

    // A name the node does not define is refused there: nothing runs.
    id = create_job(port, R"({"command":"other","nodes":["web1"]})");
    doc = wait_job(port, id, "complete", 30);
    CHECK(nodes_in(doc, "succeeded").empty());
    CHECK(run_doc(port, id, "web1")->getValue<std::string>("output") == "");
    // exed's [shovey.commands] says which names may be asked for at all.
    CHECK(http("POST", port, "/shovey/jobs", R"({"command":"uptime","nodes":["web1"]})").status == 400);
}

TEST_CASE("agent executor: a known node whose agent is disconnected is unreachable (status 3), listed down") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis) + "\n[shovey]\nstatus_interval = 1\n[shovey.commands]\nhi = echo hi\n");
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "", "hi = echo hi\n");
    AgentProcess web2(server_of(site), "web2", site.key + ".pub", site.token_file, "allow_exec = true",
                      "hi = echo hi\n");
    web1.start();
    web2.start();
    REQUIRE(wait_until([&] { return listed(port, "*") == R"(["web1","web2"])"; }, 20));
    REQUIRE(eventually([&] { return node_status(port, "web2") == "up"; }, 20));

    web2.stop(SIGKILL);
    // The executor knows it is gone once Shovey's node check says down.
    REQUIRE(eventually([&] { return node_status(port, "web2") == "down"; }, 20));
    auto r = http("GET", port, "/ping?target=*");
    CHECK(status_of(r, "web1") == 0);
    CHECK_MESSAGE(status_of(r, "web2") == 3, r.body);
    r = http("GET", port, "/ping?target=web2");
    CHECK_MESSAGE(status_of(r, "web2") == 3, r.body);
    r = http("GET", port, "/execute?target=web2&cmd=" + q("echo x"));
    CHECK_MESSAGE(status_of(r, "web2") == 3, r.body);
    CHECK(r.body.find("not connected") != std::string::npos);
    // A node never seen is still no host.
    CHECK(http("GET", port, "/ping?target=web3").status == 404);

    CHECK(http("GET", port, "/target").body == R"(["web1","web2"])");  // EXEd's shape: names, the known ones
    CHECK((target_states(port) == std::map<std::string, std::string>{{"web1", "up"}, {"web2", "down"}}));

    // Shovey: the node is known and counts down.
    std::string id = create_job(port, R"({"command":"hi","nodes":["web1","web2"],"quorum":"50%"})");
    auto doc = wait_job(port, id, "complete", 30);
    CHECK((nodes_in(doc, "succeeded") == std::vector<std::string>{"web1"}));
    CHECK((nodes_in(doc, "down") == std::vector<std::string>{"web2"}));

    // A restarted exed has never seen web2 connect: it knows it from the
    // node registry (accepted), so web2 is still a host, and unreachable.
    exed.stop();
    exed.start();
    port = exed.port();
    REQUIRE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 20));
    CHECK(eventually([&] {
        return target_states(port) == std::map<std::string, std::string>{{"web1", "up"}, {"web2", "down"}};
    }, 10));
    r = http("GET", port, "/ping?target=*");
    CHECK(status_of(r, "web1") == 0);
    CHECK_MESSAGE(status_of(r, "web2") == 3, r.body);
}

TEST_CASE("agent executor: [api] secret_args = cmd masks the argv split from cmd") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis) + "\n[api]\nsecret_args = cmd\n");
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true");
    web1.start();
    REQUIRE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 20));
    auto r = http("POST", port, "/execute", R"({"targets":["web1"],"cmd":"echo pass-w0rd-of-this-test"})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    std::string jid = r.object()->getValue<std::string>("jid");
    REQUIRE(wait_until([&] { return http("GET", port, "/jobs/" + jid).object()->getValue<std::string>("status") == "done"; }, 20));
    for (std::string path : {"/jobs/" + jid, "/jobs/" + jid + "?outputs=1"}) {
        CAPTURE(path);
        auto job = http("GET", port, path);
        REQUIRE(job.status == 200);
        std::ostringstream args_text;  // the output is no argument: only arguments are masked
        job.object()->getObject("operate_args")->stringify(args_text);
        CHECK(args_text.str().find("pass-w0rd") == std::string::npos);
    }
    auto args = http("GET", port, "/jobs/" + jid).object()->getObject("operate_args");
    CHECK(args->getValue<std::string>("cmd") == "***");
    REQUIRE(args->has("argv"));
    CHECK(args->getValue<std::string>("argv") == "***");
}
