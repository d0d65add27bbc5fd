// The plugin host's wire format (core/pluginhost/frame.hpp, protocol.hpp)
// over a real socketpair: frames written by many threads arrive whole, in
// order and routed by the header's id; a prepare's raw strings (document,
// hosts, unmatched) survive bytes JSON would escape; a cut-short frame or a
// trailer that lies about its counts is refused, never read past its end.
#include "pluginhost/frame.hpp"
#include "pluginhost/protocol.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

using namespace exed::pluginhost;

namespace {

struct Pair {
    int fd[2];
    Pair() { REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0); }
    ~Pair() {
        ::close(fd[0]);
        ::close(fd[1]);
    }
};

}  // namespace

TEST_CASE("plugin host frames: many writers, one buffered reader, ids in the header") {
    Pair p;
    FrameWriter writer(p.fd[0]);
    constexpr int kThreads = 4, kEach = 500;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&writer, t] {
            for (int i = 0; i < kEach; ++i) {
                Poco::JSON::Object m;
                m.set("t", "emit");
                m.set("id", int64_t(t + 1));
                m.set("e", std::string(size_t(i % 97) * 50, 'x'));  // some frames span reads
                m.set("n", i);
                writer.write(m);
            }
        });
    FrameReader reader(p.fd[1]);
    std::vector<int> next(kThreads + 1, 0);
    int64_t id = 0;
    std::string text;
    for (int got = 0; got < kThreads * kEach; ++got) {
        REQUIRE(reader.next(id, text));
        REQUIRE(id >= 1);
        REQUIRE(id <= kThreads);
        auto m = parse_frame(text);
        REQUIRE(m);
        CHECK(m->getValue<int64_t>("id") == id);
        CHECK(m->getValue<int>("n") == next[size_t(id)]++);  // each writer's frames in its order
    }
    for (auto& t : threads) t.join();
    ::shutdown(p.fd[0], SHUT_WR);
    CHECK_FALSE(reader.next(id, text));  // EOF
}

TEST_CASE("plugin host frames: a prepare's document and hosts cross as raw strings") {
    Pair p;
    FrameWriter writer(p.fd[0]);
    exed::plugins::Prepared sent;
    sent.status = 0;
    sent.document = "{\"targets\":[\"a\\\"b\"],\"x\":\"\\u0000\"}";
    sent.hosts = {"web1", std::string("we\0b2", 5), "", "h\xc3\xa9\n\"\\"};
    sent.unmatched = {"db*"};
    std::vector<std::string> strings;
    auto m = prepared_message(sent, strings);
    m.set("id", int64_t(7));
    REQUIRE(writer.write(m, strings));
    FrameReader reader(p.fd[1]);
    int64_t id = 0;
    std::string text;
    REQUIRE(reader.next(id, text));
    CHECK(id == 7);
    std::vector<std::string> got_strings;
    auto frame = parse_frame(text, &got_strings);
    REQUIRE(frame);
    auto got = prepared_of(*frame, got_strings);
    CHECK(got.status == 0);
    CHECK(got.document == sent.document);
    CHECK(got.hosts == sent.hosts);
    CHECK(got.unmatched == sent.unmatched);

    SUBCASE("strings cut short are refused") {
        std::vector<std::string> cut;
        CHECK_FALSE(parse_frame(text.substr(0, text.size() - 2), &cut));
    }
    SUBCASE("counts that do not match the strings fail the call, never index past them") {
        got_strings.pop_back();
        auto broken = prepared_of(*frame, got_strings);
        CHECK(broken.status != 0);
        CHECK(broken.error.find("unreadable") != std::string::npos);
        CHECK(broken.hosts.empty());
    }
}

TEST_CASE("plugin host frames: an oversized length ends the reading") {
    Pair p;
    unsigned char head[12] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1};
    REQUIRE(::write(p.fd[0], head, sizeof head) == ssize_t(sizeof head));
    FrameReader reader(p.fd[1]);
    int64_t id = 0;
    std::string text;
    CHECK_FALSE(reader.next(id, text));
}
