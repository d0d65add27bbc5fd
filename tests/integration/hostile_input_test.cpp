// Requests that once got a 500, a cut stream or a crash (issue 14): each
// must get a 400 with a JSON message, and exed must go on serving.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <Poco/JSON/Parser.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <map>
#include <thread>
#include <vector>

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

// Issue 23: text that is not UTF-8 took the plugin host down (GET
// /target?pattern=%ff was a 502) and with it every job it ran; integers
// past int64 were a 500 on the Shovey face.
namespace {

const std::string kShovey =
    "[shovey]\nstatus_interval = 1\ndown_after = 2\n[shovey.commands]\nhello = echo hello\n";

struct Faces {
    SharedRedis redis;
    ExedProcess exed;
    explicit Faces(const std::string& extra = "") : exed(test_config(redis.url(), kShovey + extra)) {
        exed.start();
    }
    HttpResponse get(const std::string& p, const std::map<std::string, std::string>& headers = {}) {
        return http("GET", exed.port(), p, "", headers);
    }
    HttpResponse post(const std::string& p, const std::string& b) { return http("POST", exed.port(), p, b); }
    std::string status(const std::string& jid) {
        auto r = get("/jobs/" + jid);
        return r.status == 200 ? r.object()->getValue<std::string>("status") : "";
    }
    std::string wait_status(const std::string& jid, const std::string& want, int seconds = 30) {
        std::string st;
        for (int i = 0; i < seconds * 20; ++i) {
            st = status(jid);
            if (("," + want + ",").find("," + st + ",") != std::string::npos) return st;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return st;
    }
};

// The raw answer to raw request bytes (what an HTTP client library would not send).
std::string raw_exchange(int port, const std::string& request) {
    Poco::Net::StreamSocket s(Poco::Net::SocketAddress("127.0.0.1", Poco::UInt16(port)));
    s.setReceiveTimeout(Poco::Timespan(5, 0));
    s.sendBytes(request.data(), int(request.size()));
    std::string out;
    char buf[4096];
    try {
        for (int n; (n = s.receiveBytes(buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    } catch (const Poco::TimeoutException&) {
    }
    return out;
}

}  // namespace

TEST_CASE("text that is not UTF-8 is a 400 before anything runs, and another host's job goes on to done") {
    Faces api;
    auto a = api.post("/execute", R"({"targets":["node1"],"cmd":"sleep 3"})");
    REQUIRE(a.status == 201);
    std::string jid = a.object()->getValue<std::string>("jid");
    REQUIRE(api.wait_status(jid, "running") == "running");

    struct Bad {
        std::string method, path, body, words;
        std::map<std::string, std::string> headers;
    };
    std::vector<Bad> bad = {
        {"GET", "/target?pattern=%ff", "", "query parameter 'pattern' is not valid UTF-8", {}},
        {"GET", "/targets?pattern=node%c3%28", "", "query parameter 'pattern' is not valid UTF-8", {}},
        {"GET", "/ping?target=node2%ed%a0%80", "", "query parameter 'target' is not valid UTF-8", {}},
        {"GET", "/execute?target=node2&cmd=echo%20%ff", "", "query parameter 'cmd' is not valid UTF-8", {}},
        {"GET", "/ping?target=node2&%ff=1", "", "a query parameter name is not valid UTF-8", {}},
        {"GET", "/jobs/%ff", "", "the request path is not valid UTF-8", {}},
        {"GET", "/ping?target=node2", "", "the header 'X-Exed-Note' is not valid UTF-8",
         {{"X-Exed-Note", "caf\xe9"}}},
        {"POST", "/ping", "{\"targets\":[\"node2\xff\"]}", "the body is not valid UTF-8", {}},
        {"POST", "/ping", R"({"targets":["\ud800"]})", "lone UTF-16 surrogate", {}},
        {"POST", "/ping", R"({"targets":["node2\udc00"]})", "lone UTF-16 surrogate", {}},
        {"POST", "/execute", R"({"targets":["node2"],"cmd":"echo \ud800x"})", "lone UTF-16 surrogate", {}},
        {"POST", "/shovey/jobs", "{\"command\":\"hello\",\"nodes\":[\"node2\xc3(\"]}",
         "the body is not valid UTF-8", {}},
        {"GET", "/shovey/jobs?cursor=%ff", "", "query parameter 'cursor' is not valid UTF-8", {}},
        {"GET", "/status/node/node2%ff/latest", "", "the request path is not valid UTF-8", {}},
    };
    for (const auto& b : bad) {
        CAPTURE(b.path);
        CAPTURE(b.body);
        check_400(http(b.method, api.exed.port(), b.path, b.body, b.headers), b.words);
    }
    CHECK(api.wait_status(jid, "done,failed,cancelled") == "done");
    // The plugin host still serves: a new job on another host runs.
    auto b = api.get("/ping?target=node2");
    CHECK(b.status == 200);
}

TEST_CASE("a command printing bytes that are not UTF-8: its output arrives as U+FFFD, the job is done") {
    for (std::string isolation : {"process", "in_process"}) {
        CAPTURE(isolation);
        Faces api("[plugins]\nisolation = " + isolation + "\n");
        // printf's octal escapes: byte 0xff, then a cut two-byte sequence
        // (quoted: exed splits cmd with shlex's rules, docs/api.md).
        auto r = api.get("/execute?target=node1&cmd=" + q("printf '\\377\\303(ok'"));
        REQUIRE_MESSAGE(r.status == 200, r.body);
        CHECK(r.object()->getObject("node1")->getValue<std::string>("stdout") == "\xEF\xBF\xBD\xEF\xBF\xBD(ok");
        std::string jid = r.header("X-Exed-Jid");
        CHECK(api.status(jid) == "done");
        auto outputs = api.get("/jobs/" + jid + "?outputs=1");
        REQUIRE(outputs.status == 200);
        CHECK(outputs.object()->getObject("return_data")->getObject("node1")->getValue<std::string>("stdout") ==
              "\xEF\xBF\xBD\xEF\xBF\xBD(ok");
        LineStream events(api.exed.port(), "/jobs/" + jid + "?follow=1");
        std::string line;
        int lines = 0;
        while (events.next(line)) {
            CAPTURE(line);
            CHECK_NOTHROW(Poco::JSON::Parser().parse(line));  // every event is JSON exed can read back
            ++lines;
        }
        CHECK(lines >= 3);  // the job, node1's event, the end
    }
}

TEST_CASE("integers out of range or malformed are a 400 on every face, never a 500") {
    Faces api;
    for (std::string t : {"9223372036854775808", "18446744073709551615", "-9223372036854775809", "0", "604801"}) {
        CAPTURE(t);
        check_400(api.post("/shovey/jobs", R"({"command":"hello","nodes":["node1"],"run_timeout":)" + t + "}"),
                  "run_timeout must be an integer from 1 to 604800");
    }
    check_400(api.post("/shovey/jobs", R"({"command":"hello","nodes":["node1"],"quorum":18446744073709551615})"),
              "quorum is out of range");
    for (std::string limit : {"1%2C000", "%2B5", "%205", "0x10", "99999999999999999999", "-1"}) {
        CAPTURE(limit);
        check_400(api.get("/shovey/jobs?limit=" + limit), "limit must be an integer from 1 to 10000");
        check_400(api.get("/jobs?limit=" + limit), "limit must be an integer from 1 to 10000");
        check_400(api.get("/audit?limit=" + limit), "limit must be an integer from 1 to 10000");
    }
    for (std::string cursor : {"1%2C5", "%2B5", "9223372036854775808", "-1"}) {
        CAPTURE(cursor);
        check_400(api.get("/jobs?cursor=" + cursor), "cursor must be the X-Next-Cursor value");
        check_400(api.get("/shovey/jobs?cursor=" + cursor), "cursor must be the X-Next-Cursor value");
    }
    check_400(api.get("/service?target=node1&name=ntp&state=%2B1"), "state must be an integer");
    // A Shovey job to stream from (quorum 0: it exists whatever the nodes' status).
    auto job = api.post("/shovey/jobs", R"({"command":"hello","nodes":["node1"],"quorum":0})");
    REQUIRE_MESSAGE(job.status == 201, job.body);
    std::string id = job.object()->getValue<std::string>("id");
    for (std::string seq : {"1%2C0", "1099511627777", "99999999999999999999"}) {
        CAPTURE(seq);
        check_400(api.get("/shovey/stream/" + id + "/node1?sequence=" + seq), "sequence must be an integer");
    }
    CHECK(api.get("/shovey/stream/" + id + "/node1?sequence=0").status == 200);
    // Content-Length as Poco would read it leniently, or not at all.
    for (std::string length : {"1,000", "99999999999999999999", "-1", "+5"}) {
        CAPTURE(length);
        std::string answer = raw_exchange(
            api.exed.port(), "POST /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + length + "\r\n\r\n{}");
        CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(answer.find("Content-Length must be a decimal integer") != std::string::npos);
    }
    CHECK(api.get("/health").status == 200);
}
