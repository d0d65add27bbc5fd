// What a browser sends on behalf of another site is refused, with the
// default config (no tokens, loopback): Sec-Fetch-Site, Origin, Referer
// and Host (DNS rebinding). Plain curl-like clients keep working.
#include "security_support.hpp"

using namespace exed::test;

namespace {
struct Local {
    SharedRedis redis;
    ExedProcess exed;
    explicit Local(const std::string& extra = "") : exed(test_config(redis.url(), extra)) { exed.start(); }
    HttpResponse get(const std::string& p, const std::map<std::string, std::string>& h = {}) {
        return http("GET", exed.port(), p, "", h);
    }
    size_t jobs() { return get("/jobs").json().extract<Poco::JSON::Array::Ptr>()->size(); }
};
}  // namespace

TEST_CASE("cross-site requests are refused, GET sync operations included") {
    Local l;
    // What <img src="http://127.0.0.1:16808/execute?..."> sends from another site.
    auto r = l.get("/execute?target=node1&cmd=id", {{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "no-cors"}});
    CHECK(r.status == 403);
    CHECK(r.message().find("cross-site request refused") != std::string::npos);
    // Another port on localhost is "same-site", still another origin.
    CHECK(l.get("/ping?target=node1", {{"Sec-Fetch-Site", "same-site"}}).status == 403);
    r = http("POST", l.exed.port(), "/execute", R"({"targets":["node1"],"cmd":"id"})",
             {{"Origin", "https://evil.example"}, {"Content-Type", "text/plain"}});
    CHECK(r.status == 403);
    CHECK(r.message().find("Origin 'https://evil.example' is not in [api] allowed_origins") != std::string::npos);
    CHECK(l.get("/ping?target=node1", {{"Origin", "null"}}).status == 403);
    // Older browsers: no Origin, no Sec-Fetch-Site, but a Referer.
    CHECK(l.get("/ping?target=node1", {{"Referer", "http://evil.example/page"}}).status == 403);
    CHECK(l.jobs() == 0);  // none of them created a job

    // The browser's own navigation (typed URL) and same-origin requests pass.
    CHECK(l.get("/ping?target=node1", {{"Sec-Fetch-Site", "none"}}).status == 200);
    CHECK(l.get("/jobs", {{"Sec-Fetch-Site", "same-origin"}}).status == 200);
}

TEST_CASE("plain curl -d (no Content-Type, no browser headers) keeps working") {
    Local l;
    auto r = http("POST", l.exed.port(), "/ping", R"({"targets":["node1"]})");
    CHECK(r.status == 201);
    CHECK(l.get("/ping?target=node2").status == 200);  // node1 may still be locked by the POST's job
}

TEST_CASE("allowed_origins admits the listed origins only") {
    Local l("[api]\nallowed_origins = https://console.example.org, http://localhost:3000\n");
    CHECK(l.get("/jobs", {{"Origin", "https://console.example.org"}, {"Sec-Fetch-Site", "cross-site"}}).status == 200);
    CHECK(l.get("/jobs", {{"Origin", "http://localhost:3000"}, {"Sec-Fetch-Site", "same-site"}}).status == 200);
    CHECK(l.get("/jobs", {{"Origin", "https://console.example.org.evil"}}).status == 403);
    CHECK(l.get("/jobs", {{"Origin", "http://localhost:3001"}}).status == 403);
}

TEST_CASE("a Host that is not this server's address is refused (DNS rebinding)") {
    Local l("[api]\nallowed_hosts = exed.internal\n");
    std::string port = std::to_string(l.exed.port());
    auto r = l.get("/execute?target=node1&cmd=id", {{"Host", "attacker.example:" + port}});
    CHECK(r.status == 421);
    CHECK(r.message().find("Host 'attacker.example:" + port + "' is not this server's address") != std::string::npos);
    CHECK(l.get("/jobs", {{"Host", "127.0.0.2:" + port}}).status == 200);  // loopback literal, listen on loopback
    CHECK(l.get("/jobs", {{"Host", "localhost:" + port}}).status == 200);
    CHECK(l.get("/jobs", {{"Host", "127.0.0.1:" + port}}).status == 200);
    CHECK(l.get("/jobs", {{"Host", "exed.internal:" + port}}).status == 200);
    CHECK(l.get("/jobs", {{"Host", "EXED.internal."}}).status == 200);
    CHECK(l.get("/jobs", {{"Host", "10.1.2.3"}}).status == 421);
    CHECK(l.jobs() == 0);
}
