// The plugin host's wire format (core/pluginhost/frame.hpp, protocol.hpp)
// over a real socketpair: frames written by many threads arrive whole, in
// order and routed by the header's id; a prepare's raw strings (document,
// hosts, unmatched) survive bytes JSON would escape; a cut-short frame or a
// trailer that lies about its counts is refused, never read past its end;
// a frame past the size limit is skipped, the frames after it are read.
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
    REQUIRE(writer.write(m, strings) == Sent::ok);
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

TEST_CASE("plugin host frames: an oversized length is one bad frame, reported at once") {
    Pair p;
    unsigned char head[12] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1};
    REQUIRE(::write(p.fd[0], head, sizeof head) == ssize_t(sizeof head));
    FrameReader reader(p.fd[1]);
    int64_t id = 0;
    std::string text = "left over";
    REQUIRE(reader.next(id, text));  // before its 4 GiB arrive: they are skipped, never buffered
    CHECK(id == 1);
    CHECK(text.empty());
    ::shutdown(p.fd[0], SHUT_WR);
    CHECK_FALSE(reader.next(id, text));  // EOF inside the skipped bytes
}

// Issue 23: one bad frame fails its own call, never the connection (a byte
// 0xff in a host pattern once ended the plugin host and all its jobs).

TEST_CASE("plugin host frames: a frame past the limit is skipped, the next one is read") {
    Pair p;
    // Frame 5 announces 100 bytes against a reader limit of 64; frame 6 is fine.
    unsigned char head[12] = {0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 5};
    REQUIRE(::write(p.fd[0], head, sizeof head) == ssize_t(sizeof head));
    std::string filler(100, '{');
    REQUIRE(::write(p.fd[0], filler.data(), filler.size()) == ssize_t(filler.size()));
    FrameWriter writer(p.fd[0]);
    Poco::JSON::Object m;
    m.set("t", "health");
    m.set("id", int64_t(6));
    REQUIRE(writer.write(m) == Sent::ok);
    FrameReader reader(p.fd[1], -1, 64);
    int64_t id = 0;
    std::string text;
    REQUIRE(reader.next(id, text));
    CHECK(id == 5);
    CHECK_FALSE(parse_frame(text));  // nothing to parse: only call 5 fails
    REQUIRE(reader.next(id, text));
    CHECK(id == 6);
    auto frame = parse_frame(text);
    REQUIRE(frame);
    CHECK(text_of(*frame, "t") == "health");
}

TEST_CASE("plugin host frames: strings that are not UTF-8 cross as U+FFFD, the frame stays readable") {
    Pair p;
    FrameWriter writer(p.fd[0]);
    Poco::JSON::Object m;
    m.set("t", "emit");
    m.set("id", int64_t(3));
    m.set("e", std::string("{\"out\":\"a\xff" "b\xc3(\"}"));  // a command printed 0xff, then a cut sequence
    REQUIRE(writer.write(m) == Sent::ok);
    FrameReader reader(p.fd[1]);
    int64_t id = 0;
    std::string text;
    REQUIRE(reader.next(id, text));
    auto frame = parse_frame(text);
    REQUIRE(frame);
    CHECK(text_of(*frame, "e") == "{\"out\":\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD(\"}");
}

TEST_CASE("plugin host protocol: fields of the wrong type read as absent, counts never wrap around") {
    Poco::JSON::Object m;
    m.set("t", Poco::JSON::Array());
    m.set("status", "0");
    m.set("bytes", Poco::UInt64(18446744073709551615ull));
    m.set("patterns", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
    m.getArray("patterns")->add(7);
    m.getArray("patterns")->add("web*");
    CHECK(text_of(m, "t") == "");
    CHECK(integer_of(m, "status", -1) == -1);
    CHECK(integer_of(m, "bytes", -1) == -1);
    CHECK(texts_of(m, "patterns") == std::vector<std::string>{"web*"});
    CHECK(result_of(m).status != 0);

    // hosts + unmatched + 1 == 1 once the sum wraps around 2^64.
    Poco::JSON::Object answer;
    answer.set("status", 0);
    answer.set("hosts", Poco::UInt64(18446744073709551615ull));
    answer.set("unmatched", Poco::UInt64(1));
    auto got = prepared_of(answer, {"{}"});
    CHECK(got.status != 0);
    CHECK(got.error.find("unreadable") != std::string::npos);
    CHECK(got.hosts.empty());
}
