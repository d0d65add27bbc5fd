// Issue 23, item 5 (readiness): exed listens at once but says "starting"
// (GET /health 503 + Retry-After, every other route 503) until its plugin
// host has loaded the plugins; "ready" after, and then systemd hears
// READY=1 on $NOTIFY_SOCKET. The test executor's init sleeps
// (init_delay_ms) so that the starting phase is long enough to see.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <Poco/File.h>
#include <Poco/Net/DatagramSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

using namespace exed::test;

namespace {

// /health until it answers at all (exed listens), up to `seconds`.
HttpResponse first_health(int port, int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
        try {
            return http("GET", port, "/health", "", {}, 5);
        } catch (...) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    return {};
}

// /health until it says `status` (or `seconds` pass); the last answer.
HttpResponse health_until(int port, const std::string& status, int seconds) {
    HttpResponse r;
    for (int i = 0; i < seconds * 10; ++i) {
        try {
            r = http("GET", port, "/health", "", {}, 5);
            if (r.status != 0 && r.object()->optValue<std::string>("status", "") == status) return r;
        } catch (...) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return r;
}

}  // namespace

TEST_CASE("readiness: /health says starting (503, Retry-After) until the plugins are loaded, then ready") {
    ExedProcess exed(test_config("embedded", "init_delay_ms = 4000\n"));
    exed.set_wait_ready(false);  // back as soon as it listens
    exed.start();
    auto r = first_health(exed.port(), 20);
    REQUIRE(r.status != 0);
    // aad4ac5 listened only after loading, and had no "status".
    CHECK(r.status == 503);
    CHECK(r.object()->optValue<std::string>("status", "") == "starting");
    CHECK(!r.header("Retry-After").empty());
    // Operations wait for readiness too: 503 "starting", not "not loaded".
    auto op = http("GET", exed.port(), "/ping?target=node1");
    if (op.status == 503) {  // (unless loading ended meanwhile)
        CHECK(op.message().find("starting") != std::string::npos);
        CHECK(!op.header("Retry-After").empty());
    }
    r = health_until(exed.port(), "ready", 30);
    CHECK(r.status == 200);
    CHECK(r.object()->optValue<std::string>("status", "") == "ready");
    CHECK(http("GET", exed.port(), "/ping?target=node1").status == 200);
    CHECK(exed.log().find("exed is ready") != std::string::npos);
}

TEST_CASE("readiness: with Type=notify exed sends READY=1 to $NOTIFY_SOCKET once /health says ready") {
    TempDir dir;
    std::string path = dir.file("notify.sock");
    // A real unix datagram socket, as systemd's.
    Poco::Net::DatagramSocket systemd(Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, path));
    systemd.setReceiveTimeout(Poco::Timespan(30, 0));
    ExedProcess exed(test_config("embedded", "init_delay_ms = 2000\n"));
    exed.set_wait_ready(false);
    setenv("NOTIFY_SOCKET", path.c_str(), 1);
    exed.start();
    unsetenv("NOTIFY_SOCKET");
    char buf[512];
    std::string got;
    try {
        int n = systemd.receiveBytes(buf, sizeof buf);
        got.assign(buf, size_t(std::max(n, 0)));
    } catch (const Poco::TimeoutException&) {
    }
    CHECK(got.find("READY=1") != std::string::npos);
    // Ready means ready: the plugins are loaded when systemd hears it.
    auto r = http("GET", exed.port(), "/health");
    CHECK(r.status == 200);
    CHECK(r.object()->optValue<std::string>("status", "") == "ready");
    CHECK(http("GET", exed.port(), "/ping?target=node1").status == 200);
    exed.stop();
    got.clear();
    try {
        int n = systemd.receiveBytes(buf, sizeof buf);
        got.assign(buf, size_t(std::max(n, 0)));
    } catch (const Poco::TimeoutException&) {
    }
    CHECK(got.find("STOPPING=1") != std::string::npos);
}

TEST_CASE("readiness: the agent executor's signing key .pub exists when /health says ready") {
    TempDir dir;
    std::string key = dir.file("keys/agent-signing.pem");
    std::string token_file = dir.write("agent.token", "readiness-test-agent-token-0123456789\n");
    ExedProcess exed(test_config("embedded",
                                 "[runner]\nexecutor = agent\n[agent]\nlisten = 127.0.0.1\nlisten_port = " +
                                     std::to_string(free_port()) + "\nsigning_key = " + key +
                                     "\ntoken_file = " + token_file + "\n",
                                 EXED_BUILD_DIR "/plugins"));
    exed.set_wait_ready(false);
    exed.start();
    auto r = health_until(exed.port(), "ready", 30);
    // At the first "ready", not some time later.
    CHECK(r.object()->optValue<std::string>("status", "") == "ready");
    CHECK(Poco::File(key + ".pub").exists());
    CHECK(Poco::File(key).exists());
}
