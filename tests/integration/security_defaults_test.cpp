// Safe defaults (no network without tokens), the per-token rate limit and
// release roots, against a real exed.
#include "security_support.hpp"

#include <Poco/String.h>

using namespace exed::test;

TEST_CASE("a non-loopback listen without tokens is refused in one line (78) unless insecure = true") {
    SharedRedis redis;
    ExedProcess open(test_config(redis.url(), "[api]\nlisten = 0.0.0.0\n"));
    CHECK(open.run_to_exit({"-c", open.conf_path()}) == 78);
    std::string log = Poco::trim(open.log());
    CHECK(log.find('\n') == std::string::npos);
    CHECK(log == "exed: refusing to listen on 0.0.0.0 without tokens: set [api] tokens_file (or auth_token), "
                 "or [api] insecure = true to serve everyone on the network");

    ExedProcess insecure(test_config(redis.url(), "[api]\nlisten = 0.0.0.0\ninsecure = true\n"));
    insecure.start();
    CHECK(http("GET", insecure.port(), "/ping?target=node1").status == 200);

    ExedProcess with_token(test_config(redis.url(), "[api]\nlisten = 0.0.0.0\nauth_token = t0k3n\n"));
    with_token.start();
    CHECK(http("GET", with_token.port(), "/jobs").status == 401);
    CHECK(http("GET", with_token.port(), "/jobs", "", {{"Authorization", "Bearer t0k3n"}}).status == 200);
}

TEST_CASE("rate_limit: a token bucket per token, 429 with Retry-After when empty") {
    SharedRedis redis;
    Token a = make_token("a", "read", "*"), b = make_token("b", "read", "*");
    // 0.2/s: a bucket of one request, refilled every 5 s.
    ExedProcess exed(token_config(redis.url(), "rate_limit = 0.2\n"));
    exed.dir().write("tokens", a.line + "\n" + b.line + "\n");
    exed.start();
    CHECK(http("GET", exed.port(), "/jobs", "", bearer(a)).status == 200);
    auto r = http("GET", exed.port(), "/jobs", "", bearer(a));
    CHECK(r.status == 429);
    int retry = std::stoi(r.header("Retry-After"));
    CHECK(retry >= 1);
    CHECK(retry <= 5);
    CHECK(r.message().find("rate limit of 0.2 requests/s exceeded") != std::string::npos);
    CHECK(http("GET", exed.port(), "/jobs", "", bearer(b)).status == 200);  // b has its own bucket
    // Without a valid token the bucket is the remote address's. exed.start()
    // polled anonymously too, from this address: under load that may have
    // emptied the bucket less than 5 s ago, so the first may be 429 already.
    int first = http("GET", exed.port(), "/jobs").status;
    CHECK((first == 401 || first == 429));
    CHECK(http("GET", exed.port(), "/jobs").status == 429);
}

TEST_CASE("rate_limit: /health is never limited and /metrics scrapes have a bucket of their own") {
    SharedRedis redis;
    Token a = make_token("a", "read", "*");
    // 0.2/s: a bucket of one request, refilled every 5 s.
    ExedProcess exed(token_config(redis.url(), "rate_limit = 0.2\n"));
    exed.dir().write("tokens", a.line + "\n");
    exed.start();
    // The address's API bucket is empty after this (start() polled too).
    http("GET", exed.port(), "/jobs");
    CHECK(http("GET", exed.port(), "/jobs").status == 429);
    for (int i = 0; i < 20; ++i) CHECK(http("GET", exed.port(), "/health").status == 200);
    // Token a spends its API request; its scrape still gets through, once.
    CHECK(http("GET", exed.port(), "/jobs", "", bearer(a)).status == 200);
    CHECK(http("GET", exed.port(), "/jobs", "", bearer(a)).status == 429);
    CHECK(http("GET", exed.port(), "/metrics", "", bearer(a)).status == 200);
    CHECK(http("GET", exed.port(), "/metrics", "", bearer(a)).status == 429);
}

TEST_CASE("release roots: extra_opts.root must lie in [release] roots (default: the releaser's root)") {
    SharedRedis redis;
    TempDir root;
    std::string plugins = test_plugin_dir("good") + "," + EXED_BUILD_DIR "/plugins";
    // Each accepted release locks its host for a while: one host per call.
    auto body = [](const std::string& where, const std::string& host = "node1") {
        return R"({"targets":[")" + host + R"("],"appname":"shop","apptype":"common","revision":"v1","extra_opts":{"giturl":"/nonexistent","root":")" +
               where + "\"}}";
    };
    ExedProcess by_default(test_config(redis.url(), "[common]\nroot = " + root.path() + "\n", plugins));
    by_default.start();
    auto r = http("POST", by_default.port(), "/release", body("/etc"));
    CHECK(r.status == 403);
    CHECK(r.message() == "extra_opts.root /etc is outside the allowed release roots (" + root.path() +
                             "; see [release] roots)");
    CHECK(http("POST", by_default.port(), "/release", body(root.path() + "-evil")).status == 403);
    CHECK(http("POST", by_default.port(), "/release", body(root.path())).status == 201);
    CHECK(http("POST", by_default.port(), "/release", body(root.path() + "/sub", "node2")).status == 201);
    // A relative root is still the releaser's 400.
    CHECK(http("POST", by_default.port(), "/release", body("rel")).status == 400);

    ExedProcess listed(test_config(redis.url(), "[release]\nroots = /srv/other, " + root.path() + "/b\n", plugins));
    listed.start();
    CHECK(http("POST", listed.port(), "/release", body("/srv/other/x", "web1")).status == 201);
    CHECK(http("POST", listed.port(), "/release", body(root.path() + "/b", "node3")).status == 201);
    CHECK(http("POST", listed.port(), "/release", body("/srv/apps")).status == 403);
    CHECK(http("POST", listed.port(), "/release", body(root.path())).status == 403);
}
