// Issue 23, item 4: a job that crashes the plugin host must not stall the
// executor for everyone. Real exed processes with the test executor, whose
// `crash_hosts` make every op on them segfault (as plugin_host_test.cpp).
#include "support/job_polls.hpp"
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace exed::test;

namespace {

// Eight hosts whose every op segfaults: one job each can be queued at once
// (jobs on one host conflict on its lock).
const std::string kCrashConf = "crash_hosts = crash1,crash2,crash3,crash4,crash5,crash6,crash7,crash8\n";

std::vector<std::string> submit_crashing_pings(int port, int n) {
    std::vector<std::string> jids;
    for (int i = 0; i < n; ++i) {
        auto r = http("POST", port, "/ping", "{\"targets\":[\"crash" + std::to_string(i + 1) + "\"]}");
        REQUIRE(r.status == 201);
        jids.push_back(r.object()->getValue<std::string>("jid"));
    }
    return jids;
}

}  // namespace

TEST_CASE("plugin host: queued jobs that crash the host do not stall others: a good sync ping answers 200, "
          "each crashing job fails at its second crash") {
    ExedProcess exed(test_config("embedded", kCrashConf));
    exed.start();
    // 8 queued read-only jobs, each on a host of its own, that each crash
    // the plugin host whenever they run.
    auto jids = submit_crashing_pings(exed.port(), 8);
    // Another user's operation on a good host, while they crash it: it is
    // answered, and answered 200 (aad4ac5: the host was restarted with a
    // back-off growing to 10 s, and this answered 503 or timed out).
    auto r = http("GET", exed.port(), "/ping?target=node1");
    CHECK(r.status == 200);
    CHECK(r.body.find("node1") != std::string::npos);
    for (auto& jid : jids) {
        CHECK(wait_ended(exed.port(), jid, 60) == "failed");
        std::string error = job_field(exed.port(), jid, "error");
        CHECK(error.find("crashed") != std::string::npos);
        CHECK(error.find("twice") != std::string::npos);  // its second crash, not retried
    }
    // And right after the last crash, too.
    r = http("GET", exed.port(), "/ping?target=node1");
    CHECK(r.status == 200);
    CHECK(exed.alive());
}

TEST_CASE("plugin host: a sync call to a crashing host answers 502 or 504 within its sync_timeout") {
    std::string conf = test_config("embedded", kCrashConf);
    const int sync_timeout = 3;
    conf.replace(conf.find("sync_timeout = 20"), 17, "sync_timeout = " + std::to_string(sync_timeout));
    ExedProcess exed(conf);
    exed.start();
    // Earlier crashes first (aad4ac5: they grew the restart delay to 10 s,
    // and the sync call waited for the host outside its deadline: 16.7 s).
    for (auto& jid : submit_crashing_pings(exed.port(), 4)) CHECK(wait_ended(exed.port(), jid, 120) == "failed");
    auto began = std::chrono::steady_clock::now();
    auto r = http("GET", exed.port(), "/ping?target=crash1");
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    CHECK((r.status == 502 || r.status == 504));
    CHECK(took < sync_timeout + 5);  // generous: the bound is sync_timeout itself
    if (r.status == 502) CHECK(r.message().find("crashed") != std::string::npos);
    // exed goes on.
    CHECK(http("GET", exed.port(), "/ping?target=node1").status == 200);
}
