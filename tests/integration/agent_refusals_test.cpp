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

    std::string signature(const Fields& f, Poco::Crypto::RSAKey* other = nullptr) {
        std::string text;
        for (auto& [k, v] : f) text += (text.empty() ? "" : "\n") + k + ": " + v;
        Poco::Crypto::RSADigestEngine engine(other ? *other : key_, "SHA256");
        engine.update(text);
        auto& sig = engine.signature();
        std::ostringstream out;
        Poco::Base64Encoder b64(out);
        b64.rdbuf()->setLineLength(0);
        b64.write(reinterpret_cast<const char*>(sig.data()), std::streamsize(sig.size()));
        b64.close();
        return out.str();
    }

    static std::string frame(const Fields& f, const std::string& signature) {
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

}  // namespace

TEST_CASE("the agent runs only commands exed signed for it, now, once, and allowed") {
    StandInExed exed;
    TempDir marks;
    std::string token = marks.write("token", kAgentToken + "\n");
    AgentProcess agent(exed.url(), "node1", exed.public_key(), token, "allow_exec = true",
                       "named = touch " + marks.file("named-ran") + "\n");
    agent.start();
    REQUIRE_MESSAGE(exed.wait_agent(), agent.log());

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
    StandInExed exed;
    TempDir marks;
    std::string token = marks.write("token", kAgentToken + "\n");
    AgentProcess agent(exed.url(), "node1", exed.public_key(), token, "allow_exec = false");
    agent.start();
    REQUIRE_MESSAGE(exed.wait_agent(), agent.log());
    auto f = exec_fields("node1", marks.file("exec-ran"));
    exed.send(StandInExed::frame(f, exed.signature(f)));
    CHECK(reason_of(exed.answer(f.at("run_id"))).find("command not allowed") != std::string::npos);
    CHECK(!file_exists(marks.file("exec-ran")));
}
