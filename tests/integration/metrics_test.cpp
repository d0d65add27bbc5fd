// GET /metrics: the names and labels of issue 18, route templates (not raw
// paths) as labels, and the whole text checked by `promtool check metrics`
// (Debian's prometheus package; `make test` fetches promtool).
#include "integration/agent_support.hpp"
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <Poco/File.h>

#include <cstdlib>
#include <fstream>

using namespace exed::test;

namespace {

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

std::string promtool() {
    std::string built = std::string(EXED_TOOLS_DIR) + "/promtool";
    return Poco::File(built).exists() ? built : "promtool";
}

// `promtool check metrics` of `text`: "" when it passes without a lint complaint.
std::string promtool_says(const TempDir& dir, const std::string& text) {
    dir.write("metrics.txt", text);
    std::string cmd = promtool() + " check metrics < " + dir.file("metrics.txt") + " > " + dir.file("promtool.out") +
                      " 2>&1";
    int rc = std::system(cmd.c_str());
    std::ifstream in(dir.file("promtool.out"));
    std::string said((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return rc == 0 && said.empty() ? "" : "rc " + std::to_string(rc) + ": " + said;
}

}  // namespace

TEST_CASE("GET /metrics: Prometheus text with the issue's metric names, valid for promtool") {
    SharedRedis redis;
    std::string dirs = test_plugin_dir("good") + "," + test_plugin_dir("broken");
    // Shovey configured: its node checks count nodes up and down.
    ExedProcess exed(test_config(redis.url(), "[shovey]\nstatus_interval = 1\n[shovey.commands]\nhello = echo hello\n", dirs));
    exed.start();
    // The first check: node1..3 and web1 answer, web2 (the test executor's down host) does not.
    REQUIRE(wait_until([&] { return http("GET", exed.port(), "/status/node/web2/latest").status == 200; }, 20));
    REQUIRE(http("GET", exed.port(), "/ping?target=node1,node2").status == 200);
    REQUIRE(http("GET", exed.port(), "/ping?target=web2").status == 200);  // down: job failed
    std::string jid = http("POST", exed.port(), "/execute", R"({"targets":["node3"],"cmd":"sleep 30"})")
                          .object()->getValue<std::string>("jid");
    CHECK(http("GET", exed.port(), "/jobs/" + jid).status == 200);
    CHECK(http("GET", exed.port(), "/jobs/nosuchjob").status == 404);
    CHECK(http("GET", exed.port(), "/no/such/path").status == 404);

    auto r = http("GET", exed.port(), "/metrics");
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type").find("text/plain; version=0.0.4") == 0);
    const std::string& m = r.body;
    CAPTURE(m);
    CHECK(has_line(m, "exed_jobs_total{op=\"ping\",status=\"done\"} 1"));
    CHECK(has_line(m, "exed_jobs_total{op=\"ping\",status=\"failed\"} 1"));
    CHECK(has_line(m, "exed_jobs_running 1"));  // the sleep
    CHECK(has_line(m, "exed_queue_depth 1"));   // its entry is not done yet
    CHECK(has_line(m, "exed_http_requests_total{route=\"/ping\",code=\"200\"} 2"));
    CHECK(has_line(m, "exed_http_requests_total{route=\"/jobs/{jid}\",code=\"200\"} 1"));
    CHECK(has_line(m, "exed_http_requests_total{route=\"/jobs/{jid}\",code=\"404\"} 1"));
    CHECK(has_line(m, "exed_http_requests_total{route=\"unmatched\",code=\"404\"} 1"));
    CHECK(m.find(jid) == std::string::npos);  // raw paths never become labels
    CHECK(has_line(m, "exed_http_request_duration_seconds_count{route=\"/ping\"} 2"));
    CHECK(has_line(m, "exed_http_request_duration_seconds_bucket{route=\"/ping\",le=\"+Inf\"} 2"));
    CHECK(has_line(m, "exed_op_duration_seconds_count{op=\"ping\",executor=\"test\"} 2"));
    CHECK(has_line(m, "exed_plugins_loaded{kind=\"executor\",type=\"test\"} 1"));
    CHECK(has_line(m, "exed_plugin_load_errors_total 8"));  // the eight broken plugins
    CHECK(has_line(m, "exed_redis_up 1"));
    CHECK(has_line(m, "exed_shovey_nodes{status=\"up\"} 4"));
    CHECK(has_line(m, "exed_shovey_nodes{status=\"down\"} 1"));
    CHECK(m.find("exed_agents_connected") == std::string::npos);  // the test executor has no `nodes`
    for (const char* type : {"# TYPE exed_jobs_total counter", "# TYPE exed_jobs_running gauge",
                             "# TYPE exed_queue_depth gauge", "# TYPE exed_http_requests_total counter",
                             "# TYPE exed_http_request_duration_seconds histogram",
                             "# TYPE exed_op_duration_seconds histogram", "# TYPE exed_plugins_loaded gauge",
                             "# TYPE exed_plugin_load_errors_total counter", "# TYPE exed_redis_up gauge",
                             "# TYPE exed_shovey_nodes gauge"})
        CHECK(has_line(m, type));

    CHECK(promtool_says(exed.dir(), m) == "");

    // Redis gone: the scrape still answers, and says so.
    redis.stop();
    auto down = http("GET", exed.port(), "/metrics");
    CHECK(down.status == 200);
    CHECK(has_line(down.body, "exed_redis_up 0"));
    CHECK(down.body.find("exed_queue_depth ") == std::string::npos);
    CHECK(http("POST", exed.port(), "/jobs/" + jid + "/cancel").status >= 500);
}

TEST_CASE("GET /metrics: agents connected and Shovey nodes up/down follow the agents") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis) + "\n[shovey]\nstatus_interval = 1\n[shovey.commands]\nhello = echo hello\n");
    exed.start();
    int port = exed.port();
    std::string server = "http://127.0.0.1:" + std::to_string(site.agent_port);
    AgentProcess web1(server, "web1", site.key + ".pub", site.token_file);
    AgentProcess db(server, "db", site.key + ".pub", site.token_file, "instances = 3");
    web1.start();
    db.start();
    auto metrics = [&] { return http("GET", port, "/metrics").body; };
    std::string m;
    CHECK_MESSAGE(wait_until([&] {
        m = metrics();
        return has_line(m, "exed_agents_connected 4") && has_line(m, "exed_shovey_nodes{status=\"up\"} 4");
    }, 20), m);
    CHECK(has_line(m, "# TYPE exed_agents_connected gauge"));
    CHECK(has_line(m, "exed_shovey_nodes{status=\"down\"} 0"));
    CHECK(promtool_says(exed.dir(), m) == "");

    db.stop(SIGKILL);  // three emulated nodes gone at once
    CHECK_MESSAGE(wait_until([&] {
        m = metrics();
        return has_line(m, "exed_agents_connected 1") && has_line(m, "exed_shovey_nodes{status=\"up\"} 1") &&
               has_line(m, "exed_shovey_nodes{status=\"down\"} 3");
    }, 20), m);
    CHECK(promtool_says(exed.dir(), m) == "");
}
