// The agent refuses every command it must not run, and reports why: a
// real `exed agent` process dials a stand-in exed written here (so the
// test can forge, tamper and replay), and marker files prove nothing ran.
#include "integration/agent_support.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/RSADigestEngine.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/Timestamp.h>
#include <Poco/UUIDGenerator.h>

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <mutex>

using namespace exed::test;
using Fields = std::map<std::string, std::string>;

namespace {

// The exed end of the agent protocol, reduced to: accept one agent, send
// frames, read its answers.
class StandInExed {
public:
    StandInExed() : key_(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE) {
        key_.save(dir_.file("signing.pem.pub"), "");
        Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));
        port_ = listener.address().port();
        auto params = new Poco::Net::HTTPServerParams;
        params->setKeepAlive(false);
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), listener, params);
        server_->start();
    }
    ~StandInExed() { server_->stopAll(true); }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::string public_key() const { return dir_.file("signing.pem.pub"); }

    bool wait_agent() {
        return wait_until([&] {
            std::lock_guard<std::mutex> lock(mutex_);
            return ws_ != nullptr;
        }, 20);
    }

    // The payload exed signs: the fields as one compact JSON object with its domain tag.
    static std::string payload(const Fields& f) {
        Poco::JSON::Object o;
        o.set("domain", std::string("exed-agent-command/2"));
        for (auto& [k, v] : f) o.set(k, v);
        std::ostringstream s;
        o.stringify(s);
        return s.str();
    }

    std::string sign_bytes(const std::string& bytes, Poco::Crypto::RSAKey* other = nullptr) {
        Poco::Crypto::RSADigestEngine engine(other ? *other : key_, "SHA256");
        engine.update(bytes);
        auto& sig = engine.signature();
        std::ostringstream out;
        Poco::Base64Encoder b64(out);
        b64.rdbuf()->setLineLength(0);
        b64.write(reinterpret_cast<const char*>(sig.data()), std::streamsize(sig.size()));
        b64.close();
        return out.str();
    }

    std::string signature(const Fields& f, Poco::Crypto::RSAKey* other = nullptr) {
        return sign_bytes(payload(f), other);
    }

    static std::string frame_of(const std::string& run_id, const std::string& payload, const std::string& signature) {
        Poco::JSON::Object msg;
        msg.set("type", std::string("command"));
        msg.set("run_id", run_id);
        msg.set("payload", payload);
        msg.set("signature", signature);
        std::ostringstream s;
        msg.stringify(s);
        return s.str();
    }

    static std::string frame(const Fields& f, const std::string& signature) {
        return frame_of(f.count("run_id") ? f.at("run_id") : "", payload(f), signature);
    }

    // The 1.x form, as an attacker may have captured it: sorted "key: value"
    // lines signed, the fields sent as an object.
    std::string old_signature(const Fields& f) {
        std::string text;
        for (auto& [k, v] : f) text += (text.empty() ? "" : "\n") + k + ": " + v;
        return sign_bytes(text);
    }
    static std::string old_frame(const Fields& f, const std::string& signature) {
        Poco::JSON::Object msg;
        Poco::JSON::Object::Ptr fields = new Poco::JSON::Object;
        for (auto& [k, v] : f) fields->set(k, v);
        msg.set("type", std::string("command"));
        msg.set("fields", fields);
        msg.set("signature", signature);
        std::ostringstream s;
        msg.stringify(s);
        return s.str();
    }

    // The agent went away: wait_agent() then waits for its next connection.
    void forget_agent() {
        std::lock_guard<std::mutex> lock(mutex_);
        ws_.reset();
    }

    void send(const std::string& text) {
        std::lock_guard<std::mutex> lock(mutex_);
        ws_->sendFrame(text.data(), int(text.size()));
    }

    // The agent's final word on run_id: "nacked" or "end" (heartbeats skipped).
    Poco::JSON::Object::Ptr answer(const std::string& run_id) {
        char buf[65536];
        for (int i = 0; i < 200; ++i) {
            int flags = 0;
            int n = ws_->receiveFrame(buf, sizeof buf, flags);
            if (n <= 0) break;
            auto msg = Poco::JSON::Parser().parse(std::string(buf, size_t(n))).extract<Poco::JSON::Object::Ptr>();
            std::string type = msg->optValue<std::string>("type", "");
            if (msg->optValue<std::string>("run_id", "") == run_id && (type == "nacked" || type == "end"))
                return msg;
        }
        return nullptr;
    }

private:
    struct Accept : Poco::Net::HTTPRequestHandler {
        explicit Accept(StandInExed& e) : exed(e) {}
        void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
            auto ws = std::make_unique<Poco::Net::WebSocket>(req, resp);
            ws->setReceiveTimeout(Poco::Timespan(10, 0));
            char hello[4096];  // the hello carries the node's public key and signature
            int flags = 0;
            ws->receiveFrame(hello, sizeof hello, flags);  // the agent speaks first
            std::lock_guard<std::mutex> lock(exed.mutex_);
            exed.ws_ = std::move(ws);
        }
        StandInExed& exed;
    };
    struct Factory : Poco::Net::HTTPRequestHandlerFactory {  // owned by the server
        explicit Factory(StandInExed& e) : exed(e) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
            return new Accept(exed);
        }
        StandInExed& exed;
    };

    TempDir dir_;
    Poco::Crypto::RSAKey key_;
    int port_ = 0;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    std::mutex mutex_;
    std::unique_ptr<Poco::Net::WebSocket> ws_;
};

std::string rfc3339(long offset_s = 0) {
    return Poco::DateTimeFormatter::format(Poco::Timestamp() + Poco::Timespan(offset_s, 0),
                                           Poco::DateTimeFormat::ISO8601_FORMAT);
}

Fields exec_fields(const std::string& node, const std::string& marker) {
    return {{"action", "start"},
            {"command", "exec"},
            {"argv", R"(["touch",")" + marker + "\"]"},
            {"run_id", Poco::UUIDGenerator::defaultGenerator().createRandom().toString()},
            {"node", node},
            {"time", rfc3339()},
            {"timeout", "10"},
            {"nonce", Poco::UUIDGenerator::defaultGenerator().createRandom().toString()}};
}

std::string reason_of(const Poco::JSON::Object::Ptr& answer) {
    REQUIRE(answer);
    CHECK(answer->getValue<std::string>("type") == "nacked");
    return answer->optValue<std::string>("reason", "");
}

// A stand-in exed and one agent, node1, dialled in and said hello; `marks`
// holds the files its commands touch.
struct AgentOnStandIn {
    StandInExed exed;
    TempDir marks;
    std::string token = marks.write("token", kAgentToken + "\n");
    AgentProcess agent;
    explicit AgentOnStandIn(const std::string& extra,
                            const std::function<std::string(const TempDir&)>& commands = nullptr)
        : agent(exed.url(), "node1", exed.public_key(), token, extra, commands ? commands(marks) : "") {
        agent.start();
        REQUIRE_MESSAGE(exed.wait_agent(), agent.log());
    }
};

}  // namespace

TEST_CASE("the agent runs only commands exed signed for it, now, once, and allowed") {
    AgentOnStandIn site("allow_exec = true", [](const TempDir& m) { return "named = touch " + m.file("named-ran") + "\n"; });
    StandInExed& exed = site.exed;
    TempDir& marks = site.marks;
    AgentProcess& agent = site.agent;

    // The harness works: a correctly signed command runs.
    auto ok = exec_fields("node1", marks.file("valid-ran"));
    std::string ok_frame = StandInExed::frame(ok, exed.signature(ok));
    exed.send(ok_frame);
    auto end = exed.answer(ok.at("run_id"));
    REQUIRE_MESSAGE(end, agent.log());
    CHECK(end->getValue<std::string>("type") == "end");
    CHECK(end->getValue<int>("exit") == 0);
    CHECK(file_exists(marks.file("valid-ran")));

    SUBCASE("a tampered command is refused: bad signature") {
        auto f = exec_fields("node1", marks.file("harmless"));
        std::string sig = exed.signature(f);
        f["argv"] = R"(["touch",")" + marks.file("tampered-ran") + "\"]";
        exed.send(StandInExed::frame(f, sig));
        CHECK(reason_of(exed.answer(f.at("run_id"))) == "bad signature");
        CHECK(!file_exists(marks.file("tampered-ran")));
    }
    SUBCASE("a command signed by another key is refused") {
        Poco::Crypto::RSAKey other(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE);
        auto f = exec_fields("node1", marks.file("forged-ran"));
        exed.send(StandInExed::frame(f, exed.signature(f, &other)));
        CHECK(reason_of(exed.answer(f.at("run_id"))) == "bad signature");
        CHECK(!file_exists(marks.file("forged-ran")));
    }
    SUBCASE("a replayed command is refused: nonce already seen") {
        REQUIRE(std::remove(marks.file("valid-ran").c_str()) == 0);
        exed.send(ok_frame);
        CHECK(reason_of(exed.answer(ok.at("run_id"))) == "nonce replayed");
        CHECK(!file_exists(marks.file("valid-ran")));
    }
    SUBCASE("a command stamped more than 15 minutes off is refused") {
        auto f = exec_fields("node1", marks.file("old-ran"));
        f["time"] = rfc3339(-16 * 60);
        exed.send(StandInExed::frame(f, exed.signature(f)));
        CHECK(reason_of(exed.answer(f.at("run_id"))).find("more than 15 min") != std::string::npos);
        CHECK(!file_exists(marks.file("old-ran")));
        auto g = exec_fields("node1", marks.file("future-ran"));
        g["time"] = rfc3339(16 * 60);
        exed.send(StandInExed::frame(g, exed.signature(g)));
        CHECK(reason_of(exed.answer(g.at("run_id"))).find("more than 15 min") != std::string::npos);
        CHECK(!file_exists(marks.file("future-ran")));
    }
    SUBCASE("a command for another node is refused") {
        auto f = exec_fields("node2", marks.file("other-node-ran"));
        exed.send(StandInExed::frame(f, exed.signature(f)));
        CHECK(reason_of(exed.answer(f.at("run_id"))).find("for node 'node2'") != std::string::npos);
        CHECK(!file_exists(marks.file("other-node-ran")));
    }
    SUBCASE("a command that is not allowed is refused; a named one runs") {
        auto f = exec_fields("node1", "");
        f.erase("argv");
        f["command"] = "not-configured";
        exed.send(StandInExed::frame(f, exed.signature(f)));
        CHECK(reason_of(exed.answer(f.at("run_id"))).find("not allowed") != std::string::npos);
        auto g = exec_fields("node1", "");
        g.erase("argv");
        g["command"] = "named";
        exed.send(StandInExed::frame(g, exed.signature(g)));
        auto named_end = exed.answer(g.at("run_id"));
        REQUIRE(named_end);
        CHECK(named_end->getValue<std::string>("type") == "end");
        CHECK(file_exists(marks.file("named-ran")));
    }
}

TEST_CASE("with allow_exec off the agent refuses any argv that is no named command") {
    AgentOnStandIn site("allow_exec = false");
    StandInExed& exed = site.exed;
    TempDir& marks = site.marks;
    AgentProcess& agent = site.agent;
    auto f = exec_fields("node1", marks.file("exec-ran"));
    exed.send(StandInExed::frame(f, exed.signature(f)));
    CHECK(reason_of(exed.answer(f.at("run_id"))).find("command not allowed") != std::string::npos);
    CHECK(!file_exists(marks.file("exec-ran")));
}

// Issue 24, item 1: the 1.x signed text was ambiguous. With the nonce set
// to "<nonce>\nrun_id: <run_id>" and run_id deleted, the sorted lines were
// the same bytes, so a captured command ran again under a "fresh" nonce.
TEST_CASE("a captured command re-split into other fields never runs again") {
    AgentOnStandIn site("allow_exec = true");
    StandInExed& exed = site.exed;
    TempDir& marks = site.marks;
    AgentProcess& agent = site.agent;

    // The issue's attack on a captured 1.x command: same signed text, other fields.
    auto f = exec_fields("node1", marks.file("old-form-ran"));
    std::string captured_sig = exed.old_signature(f);
    Fields resplit = f;
    resplit["nonce"] = f.at("nonce") + "\nrun_id: " + f.at("run_id");
    resplit.erase("run_id");
    REQUIRE(exed.old_signature(resplit) == captured_sig);  // the ambiguity itself
    exed.send(StandInExed::old_frame(resplit, captured_sig));
    auto refused = exed.answer("");
    REQUIRE_MESSAGE(refused, agent.log());
    CHECK(refused->getValue<std::string>("type") == "nacked");
    CHECK(!file_exists(marks.file("old-form-ran")));

    // The form that replaced it: a command that ran, captured...
    auto ok = exec_fields("node1", marks.file("ran"));
    std::string sig = exed.signature(ok);
    exed.send(StandInExed::frame(ok, sig));
    auto end = exed.answer(ok.at("run_id"));
    REQUIRE_MESSAGE(end, agent.log());
    CHECK(end->getValue<std::string>("type") == "end");
    REQUIRE(file_exists(marks.file("ran")));
    REQUIRE(std::remove(marks.file("ran").c_str()) == 0);

    // ...then re-split the same way under its signature: other bytes, refused.
    Fields moved = ok;
    moved["nonce"] = ok.at("nonce") + "\nrun_id: " + ok.at("run_id");
    moved.erase("run_id");
    exed.send(StandInExed::frame_of(ok.at("run_id"), StandInExed::payload(moved), sig));
    CHECK(reason_of(exed.answer(ok.at("run_id"))) == "bad signature");
    // The same fields written another way (key order, blanks) are other bytes too.
    std::string reordered = StandInExed::payload(ok);
    reordered.insert(1, " ");
    exed.send(StandInExed::frame_of(ok.at("run_id"), reordered, sig));
    CHECK(reason_of(exed.answer(ok.at("run_id"))) == "bad signature");
    // The captured payload under another (unsigned) run_id, or with fields
    // beside it: the signed payload rules, and its nonce was seen.
    std::string other_id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    exed.send(StandInExed::frame_of(other_id, StandInExed::payload(ok), sig));
    CHECK(reason_of(exed.answer(ok.at("run_id"))).find("differs from the signed one") != std::string::npos);
    Fields fresh = ok;
    fresh["nonce"] = "a-fresh-nonce";
    Poco::JSON::Object both;
    both.set("type", std::string("command"));
    both.set("run_id", ok.at("run_id"));
    both.set("payload", StandInExed::payload(ok));
    both.set("signature", sig);
    Poco::JSON::Object::Ptr extra = new Poco::JSON::Object;
    for (auto& [k, v] : fresh) extra->set(k, v);
    both.set("fields", extra);
    std::ostringstream text;
    both.stringify(text);
    exed.send(text.str());
    CHECK(reason_of(exed.answer(ok.at("run_id"))) == "nonce replayed");
    CHECK(!file_exists(marks.file("ran")));
}

// Issue 24, item 2: seen nonces were kept in memory only, so a captured
// command ran again once the agent had restarted, within its 15 minutes.
TEST_CASE("a command replayed after the agent restarted is refused, and so is its run id") {
    AgentOnStandIn site("allow_exec = true");
    StandInExed& exed = site.exed;
    TempDir& marks = site.marks;
    AgentProcess& agent = site.agent;
    auto ok = exec_fields("node1", marks.file("ran"));
    std::string captured = StandInExed::frame(ok, exed.signature(ok));
    exed.send(captured);
    auto end = exed.answer(ok.at("run_id"));
    REQUIRE_MESSAGE(end, agent.log());
    CHECK(end->getValue<std::string>("type") == "end");
    REQUIRE(std::remove(marks.file("ran").c_str()) == 0);

    auto restart = [&] {
        agent.stop(SIGKILL);  // no goodbye: what was not on disk is lost
        exed.forget_agent();
        agent.start();
        REQUIRE_MESSAGE(exed.wait_agent(), agent.log());
    };
    restart();
    exed.send(captured);
    CHECK(reason_of(exed.answer(ok.at("run_id"))) == "nonce replayed");
    // A new nonce for a run id it ran (exed resuming a job it lost, after
    // the run left the agent's memory): refused, not run again.
    auto again = ok;
    again["nonce"] = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    exed.send(StandInExed::frame(again, exed.signature(again)));
    CHECK(reason_of(exed.answer(ok.at("run_id"))).find("already ran") != std::string::npos);
    CHECK(!file_exists(marks.file("ran")));

    // A damaged guard file (a record cut short, a line of garbage) does not
    // stop the agent, and the records it can read still hold.
    std::string log = agent.dir().file("state/replay/seen.log");
    REQUIRE(file_exists(log));
    {
        std::ofstream damage(log, std::ios::app);
        damage << "garbage that is no record\nr 0000000";
    }
    restart();
    exed.send(captured);
    CHECK(reason_of(exed.answer(ok.at("run_id"))) == "nonce replayed");
    CHECK(!file_exists(marks.file("ran")));
    CHECK(agent.log().find("skipped 1 unreadable record") != std::string::npos);
    auto next = exec_fields("node1", marks.file("next-ran"));
    exed.send(StandInExed::frame(next, exed.signature(next)));
    auto next_end = exed.answer(next.at("run_id"));
    REQUIRE_MESSAGE(next_end, agent.log());
    CHECK(next_end->getValue<std::string>("type") == "end");
    CHECK(file_exists(marks.file("next-ran")));
}
