// The plugin host's serving loop (core/pluginhost/host_serve.hpp) over a
// real socketpair, with an executor client that answers at once: a frame
// it cannot read fails only its own call, and the calls after it are
// answered (issue 23: one byte 0xff in a host pattern used to end the
// host, and with it every job it ran).
#include "pluginhost/frame.hpp"
#include "pluginhost/host_serve.hpp"
#include "pluginhost/protocol.hpp"

#include <doctest/doctest.h>

#include <exed/sdk.h>

#include <map>
#include <thread>

#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

using namespace exed::pluginhost;
namespace plugins = exed::plugins;

namespace {

struct AtOnce : plugins::ExecutorClient {
    bool available(const plugins::PluginRef&) const override { return true; }
    bool implements(const plugins::PluginRef&, const std::string&) const override { return true; }
    plugins::Prepared prepare(const plugins::PrepareRequest& request) override {
        plugins::Prepared out;
        out.hosts = request.patterns;
        out.document = "{}";
        return out;
    }
    plugins::OpResult run(const plugins::PluginRef&, const std::string& op, const std::string&,
                          plugins::CallHooks&) override {
        return {EXED_OK, "{\"op\":\"" + op + "\"}", ""};
    }
    plugins::PluginRef executor() const override { return {"executor", "test"}; }
    plugins::OpResult health() override { return {EXED_OK, "", ""}; }
};

void raw_frame(int fd, int64_t id, const std::string& text) {
    unsigned char head[12];
    uint64_t size = text.size(), call = uint64_t(id);
    for (int i = 3; i >= 0; --i, size >>= 8) head[i] = static_cast<unsigned char>(size & 0xff);
    for (int i = 11; i >= 4; --i, call >>= 8) head[i] = static_cast<unsigned char>(call & 0xff);
    REQUIRE(::write(fd, head, sizeof head) == ssize_t(sizeof head));
    REQUIRE(::write(fd, text.data(), text.size()) == ssize_t(text.size()));
}

}  // namespace

TEST_CASE("plugin host: an unreadable frame fails its own call, the calls after it are answered") {
    int fd[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0);
    static AtOnce client;  // the host's call threads may outlive the test case
    auto* out = new FrameWriter(fd[1]);
    auto* host = new HostServer(client, *out, fd[1]);
    std::thread serving([host] { host->serve(); });

    raw_frame(fd[0], 5, "{\"t\":\"prepare\",\"patterns\":[\"\xff\"]}");  // not UTF-8: Poco's parser refuses it
    raw_frame(fd[0], 6, "{\"t\":\"run\"");                                // cut short
    FrameWriter writer(fd[0]);
    Poco::JSON::Object odd;  // fields of types nothing expects: read as absent
    odd.set("t", "run");
    odd.set("id", int64_t(7));
    odd.set("op", Poco::JSON::Array());
    odd.set("deadline", "tomorrow");
    REQUIRE(writer.write(odd) == Sent::ok);
    Poco::JSON::Object health;
    health.set("t", "health");
    health.set("id", int64_t(8));
    REQUIRE(writer.write(health) == Sent::ok);
    plugins::PrepareRequest request;
    request.plugin = {"executor", "test"};
    request.patterns = {"web1"};
    auto prepare = prepare_message(request);
    prepare.set("id", int64_t(9));
    REQUIRE(writer.write(prepare) == Sent::ok);

    // Answers come in any order; a timer ends the reading if one never comes.
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    itimerspec ten_s{};
    ten_s.it_value.tv_sec = 10;
    timerfd_settime(timer, 0, &ten_s, nullptr);
    FrameReader reader(fd[0], timer);
    std::map<int64_t, Poco::JSON::Object::Ptr> answers;
    std::map<int64_t, std::vector<std::string>> strings;
    int64_t id = 0;
    std::string text;
    while (answers.size() < 5 && reader.next(id, text)) {
        auto frame = parse_frame(text, &strings[id]);
        REQUIRE(frame);
        if (text_of(*frame, "t") == "result") answers[id] = frame;
    }
    REQUIRE(answers.size() == 5);
    for (int64_t bad : {5, 6}) {
        CAPTURE(bad);
        CHECK(result_of(*answers[bad]).status == EXED_ERR);
        CHECK(result_of(*answers[bad]).error.find("could not read the call") != std::string::npos);
    }
    CHECK(result_of(*answers[7]).status == EXED_OK);
    CHECK(result_of(*answers[7]).result == "{\"op\":\"\"}");
    CHECK(result_of(*answers[8]).status == EXED_OK);
    auto prepared = prepared_of(*answers[9], strings[9]);
    CHECK(prepared.status == EXED_OK);
    CHECK(prepared.hosts == std::vector<std::string>{"web1"});

    ::shutdown(fd[0], SHUT_WR);  // exed goes: the host stops reading
    serving.join();
    CHECK(host->pool().drain(10));
    ::close(timer);
    ::close(fd[0]);
    ::close(fd[1]);
}
