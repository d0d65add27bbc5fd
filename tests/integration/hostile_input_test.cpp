// Requests that once got a 500, a cut stream or a crash (issue 14): each
// must get a 400 with a JSON message, and exed must go on serving.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

using namespace exed::test;

namespace {
struct Api {
    SharedRedis redis;
    ExedProcess exed{test_config(redis.url())};
    Api() { exed.start(); }
    HttpResponse get(const std::string& p) { return http("GET", exed.port(), p); }
    HttpResponse post(const std::string& p, const std::string& b) { return http("POST", exed.port(), p, b); }
};

void check_400(const HttpResponse& r, const std::string& words) {
    CHECK(r.status == 400);
    CHECK(r.header("Content-Type").find("application/json") != std::string::npos);
    CHECK(r.message().find(words) != std::string::npos);
}
}  // namespace

TEST_CASE("numbers past 32 bits are a 400, not a 500 'Out of range'") {
    Api api;
    for (std::string state : {"2147483648", "-2147483649", "9223372036854775808",
                              "18446744073709551615"}) {
        CAPTURE(state);
        check_400(api.post("/service", R"({"targets":["node1"],"name":"ntp","state":)" + state + "}"),
                  "state must be 0");
    }
    // Poco's parser reads 2^64 as 0 and 2^64 + 2 as 2: refused before parsing.
    for (std::string state : {"18446744073709551616", "18446744073709551618", "-18446744073709551616",
                              "99999999999999999999999"}) {
        CAPTURE(state);
        check_400(api.post("/service", R"({"targets":["node1"],"name":"ntp","state":)" + state + "}"),
                  "does not fit in 64 bits");
    }
    // Digits inside strings are not numbers.
    CHECK(api.post("/execute", R"({"targets":["node1"],"cmd":"echo 99999999999999999999999"})").status ==
          201);
    for (std::string t : {"2147483648", "4294967296", "18446744073709551615"}) {
        CAPTURE(t);
        check_400(api.post("/ping", std::string(R"({"targets":["node1"],"run_timeout":)") + t + "}"),
                  "run_timeout must be a positive integer");
    }
    check_400(api.get("/service?target=node1&name=ntp&state=2147483648"), "state must be an integer");
    // The largest accepted run_timeout still submits.
    CHECK(api.post("/ping", R"({"targets":["node3"],"run_timeout":2147483647})").status == 201);
    CHECK(api.get("/health").status == 200);
}

TEST_CASE("over-long targets are a 400 naming the limit") {
    Api api;
    check_400(api.post("/ping", R"({"targets":[")" + std::string(20000, 'a') + R"("]})"),
              "longer than 4096 bytes");
    check_400(api.get("/ping?target=" + std::string(9000, 'a')), "longer than 4096 bytes");
    CHECK(api.get("/health").status == 200);
}

TEST_CASE("a follow with an event id past 64 bits is a 400 before any 200") {
    Api api;
    auto r = api.post("/ping", R"({"targets":["node1"]})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    for (auto after : {"18446744073709551616-0", "0-18446744073709551616", "99999999999999999999999",
                       "1-", "-1", "1-2-3", ""}) {
        CAPTURE(after);
        check_400(api.get("/jobs/" + jid + "?follow=1&after=" + q(after)), "event id must look like");
    }
    check_400(http("GET", api.exed.port(), "/jobs/" + jid + "?follow=1", "",
                   {{"Last-Event-ID", "18446744073709551616"}}),
              "event id must look like");
    // The largest ids Redis accepts still stream (the job's header, then the end).
    LineStream s(api.exed.port(), "/jobs/" + jid + "?follow=1&after=0-18446744073709551615");
    CHECK(s.status() == 200);
}
