// Slow request bodies hold no request worker (issue 23, item 2): the event
// thread receives a whole request (header and Content-Length bytes of body)
// before a worker runs it, within [api] request_timeout; a malformed length
// is a 400 JSON answer. Real exed, raw loopback sockets; every loop is
// bounded in count and time, and the time bounds are generous liveness
// limits, not measurements (the issue's "never beyond 1 s" is checked as
// "answered within 5 s while the slow clients still drip").
#include "support/fixtures.hpp"
#include "support/http_client.hpp"
#include "support/procs.hpp"

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <sys/socket.h>

using namespace exed::test;
using Clock = std::chrono::steady_clock;

namespace {

const std::map<std::string, std::string> kAuth{{"Authorization", "Bearer s3cret"}};

std::unique_ptr<Poco::Net::StreamSocket> connect(int port) {
    auto s = std::make_unique<Poco::Net::StreamSocket>(Poco::Net::SocketAddress("127.0.0.1", Poco::UInt16(port)));
    s->setReceiveTimeout(Poco::Timespan(5, 0));
    return s;
}

// A send the server may already have closed against.
void send_late(Poco::Net::StreamSocket& s, const std::string& text) {
    (void)::send(s.impl()->sockfd(), text.data(), text.size(), MSG_NOSIGNAL);
}

// What arrives within `seconds` (0: what is there now), until the server
// closes (*closed) or `until` appears in it.
std::string read_for(Poco::Net::StreamSocket& s, int seconds, bool* closed = nullptr, const std::string& until = "") {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    std::string got;
    char buf[4096];
    if (closed) *closed = false;
    for (bool first = true; first || Clock::now() < deadline; first = false) {
        if (!until.empty() && got.find(until) != std::string::npos) break;
        if (!s.poll(Poco::Timespan(0, seconds ? 200000 : 0), Poco::Net::Socket::SELECT_READ)) continue;
        int n = -1;
        try {
            n = s.receiveBytes(buf, sizeof buf);
        } catch (const Poco::Exception&) {
        }
        if (n <= 0) {
            if (closed) *closed = true;
            break;
        }
        got.append(buf, size_t(n));
    }
    return got;
}

// The JSON body of a raw answer.
std::string body_of(const std::string& answer) {
    size_t at = answer.find("\r\n\r\n");
    return at == std::string::npos ? "" : answer.substr(at + 4);
}

std::string post_head(const std::string& extra) {
    return "POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer s3cret\r\n"
           "Content-Type: application/json\r\n" + extra + "\r\n";
}

}  // namespace

TEST_CASE("1000 clients dripping request bodies hold no worker: /health and an authorised GET /jobs answer meanwhile") {
    ExedProcess exed(test_config("embedded", "[api]\nauth_token = s3cret\nmax_connections = 1500\n"
                                             "request_timeout = 600\nheader_timeout = 600\n"));
    exed.start();
    const std::string body = R"({"targets":["node1"],"cmd":"true"})";
    std::vector<std::unique_ptr<Poco::Net::StreamSocket>> slow;
    for (int i = 0; i < 1000; ++i) {
        slow.push_back(connect(exed.port()));
        send_late(*slow.back(), post_head("Content-Length: " + std::to_string(body.size()) + "\r\n") + body.substr(0, 1));
    }
    // One more body byte each, a second apart: never a whole body. Each
    // round the others are answered while every dripper is still open.
    for (int round = 1; round <= 4; ++round) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        for (auto& s : slow) send_late(*s, body.substr(size_t(round), 1));
        CAPTURE(round);
        CHECK(http("GET", exed.port(), "/health", "", {}, 5).status == 200);
        CHECK(http("GET", exed.port(), "/jobs", "", kAuth, 5).status == 200);
    }
    // The drippers outlived the checks: none was answered or closed.
    bool closed = false;
    CHECK(read_for(*slow.front(), 1, &closed).empty());
    CHECK(!closed);
    // A dripper that finishes its body is served as usual.
    send_late(*slow.back(), body.substr(5));
    std::string answer = read_for(*slow.back(), 20, nullptr, "}");
    CHECK(answer.find("HTTP/1.1 201") == 0);
    CHECK(body_of(answer).find("\"jid\"") != std::string::npos);
}

TEST_CASE("a body still dripping past request_timeout gets 408 JSON and the close, and the workers stay free") {
    ExedProcess exed(test_config("embedded", "[api]\nauth_token = s3cret\nthreads = 2\n"
                                             "request_timeout = 3\nheader_timeout = 60\n"));
    exed.start();
    std::vector<std::unique_ptr<Poco::Net::StreamSocket>> slow;
    for (int i = 0; i < 4; ++i) {
        slow.push_back(connect(exed.port()));
        send_late(*slow.back(), post_head("Content-Length: 100\r\n") + "{");
    }
    // A byte every half second, past the 3 s deadline: 408 (or the close).
    std::vector<std::string> got(slow.size());
    std::vector<bool> closed(slow.size(), false);
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
        bool all = true;
        for (size_t i = 0; i < slow.size(); ++i) {
            if (closed[i]) continue;
            send_late(*slow[i], " ");
            bool c = false;
            got[i] += read_for(*slow[i], 0, &c);
            closed[i] = c;
            all = all && c;
        }
        if (all) break;
        CHECK(http("GET", exed.port(), "/health", "", {}, 5).status == 200);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    for (size_t i = 0; i < slow.size(); ++i) {
        CAPTURE(got[i]);
        CHECK(closed[i]);
        if (!got[i].empty()) {
            CHECK(got[i].find("HTTP/1.1 408") == 0);
            CHECK(body_of(got[i]).find("request_timeout") != std::string::npos);
        }
    }
    CHECK(http("GET", exed.port(), "/jobs", "", kAuth, 5).status == 200);
}

TEST_CASE("malformed, conflicting, negative or too large Content-Length, and chunked bodies: a JSON 4xx, not a close") {
    ExedProcess exed(test_config("embedded", "[api]\nauth_token = s3cret\n"));
    exed.start();
    struct Case {
        std::string head;
        int status;
        std::string message;
    };
    std::vector<Case> cases = {
        {"Content-Length: abc\r\n", 400, "Content-Length must be a decimal integer from 0 to 9223372036854775807, not 'abc'"},
        {"Content-Length: -5\r\n", 400, "Content-Length must be a decimal integer from 0 to 9223372036854775807, not '-5'"},
        {"Content-Length: 99999999999999999999999\r\n", 400, "Content-Length must be a decimal integer"},
        {"Content-Length: 3\r\nContent-Length: 4\r\n", 400, "conflicting Content-Length"},
        {"Content-Length: 2000000\r\n", 413, "request body larger than 1048576 bytes"},
        {"Transfer-Encoding: chunked\r\n", 411, "needs a Content-Length"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.head);
        auto s = connect(exed.port());
        send_late(*s, post_head(c.head));
        bool closed = false;
        std::string answer = read_for(*s, 10, &closed);
        CHECK(answer.find("HTTP/1.1 " + std::to_string(c.status)) == 0);
        CHECK(answer.find("Content-Type: application/json") != std::string::npos);
        CHECK(body_of(answer).find(c.message) != std::string::npos);
        CHECK(closed);
    }
    CHECK(http("GET", exed.port(), "/health", "", {}, 5).status == 200);
}

TEST_CASE("a POST without Content-Length has no body, and Expect: 100-continue is answered without a worker") {
    // Two workers and a per-read timeout of 60 s: before, two such clients
    // held both workers for a minute.
    ExedProcess exed(test_config("embedded", "[api]\nauth_token = s3cret\nthreads = 2\nheader_timeout = 60\n"));
    exed.start();
    std::vector<std::unique_ptr<Poco::Net::StreamSocket>> no_length, expecting;
    for (int i = 0; i < 4; ++i) {
        no_length.push_back(connect(exed.port()));
        send_late(*no_length.back(), "POST /jobs/no-such-job/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     "Authorization: Bearer s3cret\r\n\r\n");
        expecting.push_back(connect(exed.port()));
        send_late(*expecting.back(), post_head("Content-Length: 34\r\nExpect: 100-continue\r\n"));
    }
    for (auto& s : no_length) {
        std::string answer = read_for(*s, 10, nullptr, "}");
        CHECK(answer.find("HTTP/1.1 404") == 0);
        CHECK(body_of(answer).find("no such job") != std::string::npos);
    }
    for (auto& s : expecting) CHECK(read_for(*s, 10, nullptr, "\r\n\r\n").find("HTTP/1.1 100 Continue\r\n\r\n") == 0);
    // None of them holds a worker: both answer at once.
    CHECK(http("GET", exed.port(), "/health", "", {}, 5).status == 200);
    CHECK(http("GET", exed.port(), "/jobs", "", kAuth, 5).status == 200);
    // The body that follows its 100 Continue is served, once (no second 100).
    send_late(*expecting.front(), R"({"targets":["node1"],"cmd":"true"})");
    std::string answer = read_for(*expecting.front(), 20, nullptr, "}");
    CHECK(answer.find("HTTP/1.1 201") == 0);
    CHECK(answer.find("100 Continue") == std::string::npos);
}

TEST_CASE("keep-alive and pipelining: two whole requests in one packet are both answered, in order") {
    ExedProcess exed(test_config("embedded", "[api]\nauth_token = s3cret\n"));
    exed.start();
    auto s = connect(exed.port());
    const std::string body = R"({"targets":["node1"],"cmd":"true"})";
    send_late(*s, post_head("Content-Length: " + std::to_string(body.size()) + "\r\n") + body +
                      "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    std::string answer = read_for(*s, 20, nullptr, "\"ok\"");
    CAPTURE(answer);
    size_t second = answer.find("HTTP/1.1 200");
    CHECK(answer.find("HTTP/1.1 201") == 0);
    CHECK(second != std::string::npos);
    // The same connection serves a third request later.
    send_late(*s, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    bool closed = false;
    std::string third = read_for(*s, 10, &closed, "\r\n\r\n");
    CHECK(third.find("HTTP/1.1 200") == 0);
    CHECK(!closed);
}
