// The Shovey face end to end: a real exed with the ansible executor, real
// sshd hosts on 127.0.0.11-13 (node3 stopped to be down), a real
// redis-server. Every run is an exed job run by ansible over ssh.
#include "shovey_support.hpp"
#include "support/ssh_hosts.hpp"

#include <Poco/RegularExpression.h>

#include <set>

using namespace exed::test;

namespace {

const char* kCommands =
    "[shovey.commands]\n"
    "hello = echo hello\n"
    // stdout and stderr alternate, with pauses so each line is its own read
    "both = sh -c 'echo out1; sleep 0.5; echo err1 >&2; sleep 0.5; echo out2; sleep 0.5; echo err2 >&2'\n"
    "fail = sh -c 'echo bad >&2; exit 3'\n"
    "sleepy = sleep 120\n";

struct Fleet {
    SshHosts hosts;
    SharedRedis redis;
    std::unique_ptr<ExedProcess> exed;
    int port = 0;

    // `shovey` is put in the [shovey] section; node indexes in `stopped`
    // are down before exed starts.
    explicit Fleet(const std::string& shovey = "status_interval = 1\n", std::vector<int> stopped = {}) {
        for (int i : stopped) hosts.stop(i);
        exed = std::make_unique<ExedProcess>(test_config(
            redis.url(),
            "[runner]\nexecutor = ansible\nconcurrency = 4\n"
            "[ansible]\ninventory = " + hosts.inventory_path() + "\nsshkey = " + hosts.key_path() +
                "\nknown_hosts = " + hosts.known_hosts_path() + "\ntimeout = 3\nrun_dir = @DIR@/ansible\n"
            "[shovey]\nrun_timeout = 60\ndown_after = 2\n" + shovey + kCommands,
            EXED_BUILD_DIR "/plugins"));
        exed->start();
        port = exed->port();
    }

    void wait_status(const std::string& node, const std::string& want) {
        REQUIRE_MESSAGE(eventually([&] { return node_status(port, node) == want; }, 60),
                        node << " never became " << want << "; log:\n" << exed->log());
    }
};

bool is_rfc3339(const std::string& t) {
    static const Poco::RegularExpression shape(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$)");
    return shape.match(t);
}

Poco::JSON::Object::Ptr stream(int port, const std::string& id, const std::string& node,
                               const std::string& query) {
    auto r = http("GET", port, "/shovey/stream/" + id + "/" + node + query);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.object();
}

}  // namespace

TEST_CASE("ssh: quorum met and the down node never gets the command - documents and streams and status") {
    Fleet f("status_interval = 1\n", {2});
    f.wait_status("node1", "up");
    f.wait_status("node2", "up");
    f.wait_status("node3", "down");

    std::string id = create_job(f.port, R"({"command":"both","quorum":"50%","nodes":["node1","node2","node3"]})");
    auto listed = http("GET", f.port, "/shovey/jobs").json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(listed->size() == 1);
    CHECK(listed->getElement<std::string>(0) == id);

    auto doc = wait_job(f.port, id, "complete");
    CHECK(doc->getValue<std::string>("status") == "complete");
    CHECK(doc->getValue<std::string>("command") == "both");
    CHECK(doc->getValue<int>("run_timeout") == 60);
    CHECK(is_rfc3339(doc->getValue<std::string>("created_at")));
    CHECK(is_rfc3339(doc->getValue<std::string>("updated_at")));
    CHECK(nodes_in(doc, "succeeded") == std::vector<std::string>{"node1", "node2"});
    CHECK(nodes_in(doc, "down") == std::vector<std::string>{"node3"});

    auto run = run_doc(f.port, id, "node1");
    CHECK(run->getValue<std::string>("run_id") == id);
    CHECK(run->getValue<std::string>("node_name") == "node1");
    CHECK(run->getValue<std::string>("status") == "succeeded");
    CHECK(run->getValue<int>("exit_status") == 0);
    CHECK(run->getValue<std::string>("output") == "out1\nout2\n");
    CHECK(run->getValue<std::string>("stderr") == "err1\nerr2\n");
    CHECK(run->getValue<std::string>("error") == "");
    CHECK(is_rfc3339(run->getValue<std::string>("ack_time")));
    CHECK(is_rfc3339(run->getValue<std::string>("end_time")));

    // The run is an ordinary exed job: listed in /jobs, an `execute` on node1.
    std::string jid = run->getValue<std::string>("jid");
    auto job = http("GET", f.port, "/jobs/" + jid).object();
    CHECK(job->getValue<std::string>("operate") == "execute");
    CHECK(job->getValue<std::string>("status") == "done");
    CHECK(http("GET", f.port, "/jobs").body.find(jid) != std::string::npos);

    auto down = run_doc(f.port, id, "node3");
    CHECK(down->getValue<std::string>("status") == "down");
    CHECK(down->isNull("exit_status"));
    CHECK(down->getValue<std::string>("ack_time") == "");

    // Streams: per-type sequences, and both interleaved as produced.
    auto all = stream(f.port, id, "node1", "?output_type=both");
    CHECK(all->getValue<std::string>("output") == "out1\nerr1\nout2\nerr2\n");
    CHECK(all->getValue<int>("last_seq") == 4);
    CHECK(all->getValue<bool>("is_last"));
    CHECK(all->getValue<std::string>("output_type") == "both");
    auto out = stream(f.port, id, "node1", "");
    CHECK(out->getValue<std::string>("output_type") == "stdout");
    CHECK(out->getValue<std::string>("output") == "out1\nout2\n");
    CHECK(out->getValue<int>("last_seq") == 2);
    auto tail = stream(f.port, id, "node1", "?sequence=2&output_type=stdout");
    CHECK(tail->getValue<std::string>("output") == "out2\n");
    CHECK(tail->getValue<bool>("is_last"));
    auto err = stream(f.port, id, "node2", "?output_type=stderr&sequence=1");
    CHECK(err->getValue<std::string>("output") == "err1\nerr2\n");
    auto rest = stream(f.port, id, "node1", "?output_type=both&sequence=3");
    CHECK(rest->getValue<std::string>("output") == "out2\nerr2\n");
    auto none = stream(f.port, id, "node3", "?output_type=both");
    CHECK(none->getValue<std::string>("output") == "");
    CHECK(none->getValue<bool>("is_last"));

    // Node status: latest, history (newest first), all nodes with urls.
    auto latest = http("GET", f.port, "/status/node/node3/latest").object();
    CHECK(latest->getValue<std::string>("status") == "down");
    CHECK(is_rfc3339(latest->getValue<std::string>("updated_at")));
    auto history = http("GET", f.port, "/status/node/node1/all").json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(history->size() >= 2);
    std::string newer = history->getObject(0)->getValue<std::string>("updated_at");
    std::string older = history->getObject(1)->getValue<std::string>("updated_at");
    CHECK(newer > older);
    auto nodes = http("GET", f.port, "/status/all/nodes").json().extract<Poco::JSON::Array::Ptr>();
    std::set<std::string> names;
    for (size_t i = 0; i < nodes->size(); ++i) {
        auto n = nodes->getObject(i);
        names.insert(n->getValue<std::string>("node_name"));
        CHECK(n->getValue<std::string>("url").find("/status/node/" + n->getValue<std::string>("node_name") +
                                                   "/latest") != std::string::npos);
    }
    CHECK(names == std::set<std::string>{"node1", "node2", "node3"});

    // A node that comes back is up again.
    f.hosts.start(2);
    f.wait_status("node3", "up");
}

TEST_CASE("ssh: quorum not met runs nothing anywhere") {
    Fleet f("status_interval = 1\n", {2});
    f.wait_status("node1", "up");
    f.wait_status("node3", "down");
    auto jobs_before = http("GET", f.port, "/jobs").body;

    for (std::string quorum : {R"("100%")", "3", R"("67%")"}) {
        CAPTURE(quorum);
        std::string id = create_job(
            f.port, R"({"command":"hello","quorum":)" + quorum + R"(,"nodes":["node1","node2","node3"]})");
        auto doc = job_doc(f.port, id);
        CHECK(doc->getValue<std::string>("status") == "quorum_failed");
        CHECK(nodes_in(doc, "down") == std::vector<std::string>{"node3"});
        CHECK(nodes_in(doc, "cancelled") == std::vector<std::string>{"node1", "node2"});
        CHECK(run_doc(f.port, id, "node1")->getValue<std::string>("error").find("quorum") != std::string::npos);
    }
    // No exed job was created for any of them.
    CHECK(http("GET", f.port, "/jobs").body == jobs_before);
    // The default quorum is 100%.
    std::string id = create_job(f.port, R"({"command":"hello","nodes":["node1","node3"]})");
    CHECK(job_doc(f.port, id)->getValue<std::string>("status") == "quorum_failed");
    // A count that is met runs.
    id = create_job(f.port, R"({"command":"hello","quorum":2,"nodes":["node1","node2","node3"]})");
    auto doc = wait_job(f.port, id, "complete");
    CHECK(nodes_in(doc, "succeeded") == std::vector<std::string>{"node1", "node2"});
    CHECK(run_doc(f.port, id, "node2")->getValue<std::string>("output") == "hello\n");
}

TEST_CASE("ssh: cancel some nodes then all") {
    Fleet f;
    f.wait_status("node1", "up");
    f.wait_status("node2", "up");
    f.wait_status("node3", "up");
    std::string id = create_job(f.port, R"({"command":"sleepy","nodes":["node1","node2","node3"]})");
    REQUIRE(eventually([&] { return nodes_in(job_doc(f.port, id), "running").size() == 3; }, 60));

    auto r = http("PUT", f.port, "/shovey/jobs/cancel", R"({"run_id":")" + id + R"(","nodes":["node2"]})");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto doc = r.object();
    CHECK(nodes_in(doc, "cancelled") == std::vector<std::string>{"node2"});
    CHECK(nodes_in(doc, "running") == std::vector<std::string>{"node1", "node3"});
    CHECK(doc->getValue<std::string>("status") == "running");
    auto run = run_doc(f.port, id, "node2");
    CHECK(http("GET", f.port, "/jobs/" + run->getValue<std::string>("jid")).object()->getValue<std::string>(
              "status") == "cancelled");
    CHECK(run->isNull("exit_status"));

    r = http("PUT", f.port, "/shovey/jobs/cancel", R"({"run_id":")" + id + R"(","nodes":[]})");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    doc = r.object();
    CHECK(doc->getValue<std::string>("status") == "cancelled");
    CHECK(nodes_in(doc, "cancelled") == std::vector<std::string>{"node1", "node2", "node3"});
    // The remote commands are gone: the hosts are free for the next job.
    std::string next = create_job(f.port, R"({"command":"hello","nodes":["node1","node2","node3"]})");
    CHECK(nodes_in(wait_job(f.port, next, "complete"), "succeeded").size() == 3);
}

TEST_CASE("ssh: run_timeout kills the command on each node") {
    Fleet f;
    f.wait_status("node1", "up");
    f.wait_status("node2", "up");
    std::string id = create_job(f.port, R"({"command":"sleepy","nodes":["node1","node2"],"run_timeout":2})");
    auto doc = wait_job(f.port, id, "complete,cancelled");
    CHECK(doc->getValue<std::string>("status") == "complete");
    CHECK(doc->getValue<int>("run_timeout") == 2);
    CHECK(nodes_in(doc, "killed") == std::vector<std::string>{"node1", "node2"});
    auto run = run_doc(f.port, id, "node1");
    CHECK(run->getValue<std::string>("error").find("run_timeout") != std::string::npos);
    CHECK(run->isNull("exit_status"));
}

TEST_CASE("ssh: a failing command and an unreachable node both end failed") {
    // One check at start-up, none after: node2 is still "up" when it is
    // stopped, so the run really tries it.
    Fleet f("status_interval = 3600\n");
    f.wait_status("node1", "up");
    f.wait_status("node2", "up");
    f.hosts.stop(1);
    std::string id = create_job(f.port, R"({"command":"fail","nodes":["node1","node2"]})");
    auto doc = wait_job(f.port, id, "complete");
    CHECK(nodes_in(doc, "failed") == std::vector<std::string>{"node1", "node2"});
    auto run = run_doc(f.port, id, "node1");
    CHECK(run->getValue<int>("exit_status") == 3);
    CHECK(run->getValue<std::string>("stderr") == "bad\n");
    auto unreachable = run_doc(f.port, id, "node2");
    CHECK(unreachable->isNull("exit_status"));
    CHECK(unreachable->getValue<std::string>("error") != "");
}
