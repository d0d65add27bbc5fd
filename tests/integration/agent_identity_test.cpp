// Node identity (issue 24, items 3 and 4): a name is bound to its key, a
// new key waits for an operator, and a run's messages count only from the
// connection its run was sent to. Real exed, real redis, real `exed agent`
// processes; the attacker is RogueAgent below, a WebSocket client that
// knows the agent token and speaks the protocol with a key of its own.
#include "integration/agent_support.hpp"
#include "support/job_polls.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/ECDSADigestEngine.h>
#include <Poco/Crypto/ECKey.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/WebSocket.h>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <sstream>
#include <thread>

#include <sys/stat.h>

using namespace exed::test;

namespace {

std::string server_of(const AgentSite& site) { return "http://127.0.0.1:" + std::to_string(site.agent_port); }

std::string json_text(const Poco::JSON::Object& o) {
    std::ostringstream s;
    o.stringify(s);
    return s.str();
}

// stdout of a shell command line (test tooling only: openssl, exed node).
std::string capture(const std::string& cmd, int* rc = nullptr) {
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = pclose(p);
    if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

// The documented fingerprint (docs/security.md) of a PEM public key file,
// computed by openssl: "SHA256:" + unpadded base64 of SHA-256(DER SPKI).
std::string openssl_fingerprint(const std::string& pub_pem_file) {
    std::string b64 = capture("openssl pkey -pubin -in " + pub_pem_file +
                              " -outform DER | openssl dgst -sha256 -binary | base64 -w0");
    while (!b64.empty() && (b64.back() == '=' || b64.back() == '\n')) b64.pop_back();
    return "SHA256:" + b64;
}

// An attacker holding the agent token and a P-256 key of its own. It dials
// exed as `node`, says a correctly signed hello for ITS key, and then does
// what it is told to: answer every command with forged output and exit 0,
// or send what the test gives it. It dials again whenever it is closed.
class RogueAgent {
public:
    RogueAgent(int agent_port, std::string node) : port_(agent_port), node_(std::move(node)), key_("prime256v1") {}
    ~RogueAgent() { stop(); }

    void start() {
        thread_ = std::thread([this] { loop(); });
    }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    void send(const std::string& text) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (ws_) ws_->sendFrame(text.data(), int(text.size()));
    }
    int attempts() const { return attempts_; }
    int commands_answered() const { return answered_; }
    int refusals(const std::string& state) const {
        std::lock_guard<std::mutex> lock(mutex_);
        int n = 0;
        for (auto& s : refused_) n += s == state;
        return n;
    }
    bool connected_once() const { return connected_once_; }

private:
    std::string hello(const std::string& challenge) {
        std::ostringstream pub;
        key_.save(&pub, nullptr);
        Poco::Crypto::ECDSADigestEngine engine(key_, "SHA256");
        engine.update("exed-agent-hello-v1\nnode: " + node_ + "\nchallenge: " + challenge + "\n");
        auto& sig = engine.signature();
        std::ostringstream b64;
        Poco::Base64Encoder enc(b64);
        enc.rdbuf()->setLineLength(0);
        enc.write(reinterpret_cast<const char*>(sig.data()), std::streamsize(sig.size()));
        enc.close();
        Poco::JSON::Object o;
        o.set("type", std::string("hello"));
        o.set("node", node_);
        o.set("public_key", pub.str());
        o.set("signature", b64.str());
        return json_text(o);
    }

    void answer_command(const Poco::JSON::Object::Ptr& msg) {
        auto fields = msg->getObject("fields");
        if (!fields) return;
        std::string run_id = fields->optValue<std::string>("run_id", "");
        Poco::JSON::Object out;
        out.set("type", std::string("output"));
        out.set("run_id", run_id);
        out.set("seq", 0);
        out.set("stream", std::string("stdout"));
        out.set("data", std::string("forged by the impostor\n"));
        send(json_text(out));
        Poco::JSON::Object end;
        end.set("type", std::string("end"));
        end.set("run_id", run_id);
        end.set("exit", 0);
        end.set("time", std::string("2026-01-01T00:00:00Z"));
        send(json_text(end));
        ++answered_;
    }

    void session() {
        Poco::Net::HTTPClientSession http("127.0.0.1", Poco::UInt16(port_));
        http.setTimeout(Poco::Timespan(5, 0));
        Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, "/agent/connect?node=" + node_,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
        req.set("Authorization", "Bearer " + kAgentToken);
        Poco::Net::HTTPResponse resp;
        auto ws = std::make_unique<Poco::Net::WebSocket>(http, req, resp);
        ws->setReceiveTimeout(Poco::Timespan(0, 300000));
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ws_ = std::move(ws);
        }
        send(hello(resp.get("X-Exed-Challenge", "")));
        connected_once_ = true;
        Poco::Buffer<char> frame(0);
        while (!stop_) {
            int flags = 0;
            int n = 0;
            try {
                frame.resize(0);
                n = ws_->receiveFrame(frame, flags);
            } catch (const Poco::TimeoutException&) {
                send(R"({"type":"heartbeat"})");  // stay listed
                continue;
            }
            int op = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
            if ((n == 0 && flags == 0) || op == Poco::Net::WebSocket::FRAME_OP_CLOSE) break;
            if (op != Poco::Net::WebSocket::FRAME_OP_TEXT) continue;
            Poco::JSON::Object::Ptr msg;
            try {
                msg = Poco::JSON::Parser().parse(std::string(frame.begin(), frame.size())).extract<Poco::JSON::Object::Ptr>();
            } catch (const std::exception&) {
                continue;
            }
            std::string type = msg->optValue<std::string>("type", "");
            if (type == "command") answer_command(msg);
            else if (type == "ping") send(R"({"type":"pong","run_id":")" + msg->optValue<std::string>("run_id", "") + "\"}");
            else if (type == "refused") {
                std::lock_guard<std::mutex> lock(mutex_);
                refused_.push_back(msg->optValue<std::string>("state", ""));
            }
        }
    }

    void loop() {
        while (!stop_) {
            ++attempts_;
            try {
                session();
            } catch (const Poco::Exception&) {
            }
            {
                std::lock_guard<std::mutex> lock(mutex_);
                ws_.reset();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }

    int port_;
    std::string node_;
    Poco::Crypto::ECKey key_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<int> attempts_{0}, answered_{0};
    std::atomic<bool> connected_once_{false};
    mutable std::mutex mutex_;
    std::unique_ptr<Poco::Net::WebSocket> ws_;
    std::vector<std::string> refused_;
};

// GET /nodes as name -> object.
std::map<std::string, Poco::JSON::Object::Ptr> nodes_of(int port) {
    std::map<std::string, Poco::JSON::Object::Ptr> out;
    auto r = http("GET", port, "/nodes");
    if (r.status != 200) return out;
    auto arr = r.json().extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < arr->size(); ++i) {
        auto o = arr->getObject(i);
        out[o->getValue<std::string>("name")] = o;
    }
    return out;
}

std::string node_state(int port, const std::string& name) {
    auto nodes = nodes_of(port);
    return nodes.count(name) ? nodes[name]->getValue<std::string>("state") : "";
}

// Runs `echo <word>` on `node` as a job; its host result (nullptr if none).
Poco::JSON::Object::Ptr run_echo(int port, const std::string& node, const std::string& word, std::string& status) {
    auto r = http("POST", port, "/execute", R"({"targets":[")" + node + R"("],"cmd":"echo )" + word + "\"}");
    if (r.status != 201) {
        status = "submit " + std::to_string(r.status) + " " + r.body;
        return nullptr;
    }
    std::string jid = r.object()->getValue<std::string>("jid");
    status = wait_ended(port, jid, 30);
    auto job = http("GET", port, "/jobs/" + jid + "?outputs=1").object();
    auto ret = job->getObject("return_data");
    return ret ? ret->getObject(node) : nullptr;
}

}  // namespace

TEST_CASE("agent identity: an impostor with the right token and another key is refused, the real node keeps its commands") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis));  // auto_accept: the real web1 pins its key first
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true");
    web1.start();
    REQUIRE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 20));

    RogueAgent impostor(site.agent_port, "web1");
    impostor.start();
    REQUIRE(wait_until([&] { return impostor.attempts() >= 3; }, 20));

    // Every command reaches the real node and runs there: the forged
    // stdout never becomes web1's result.
    for (int i = 0; i < 6; ++i) {
        std::string status;
        auto host = run_echo(port, "web1", "real-" + std::to_string(i), status);
        CAPTURE(i);
        CHECK(status == "done");
        REQUIRE_MESSAGE(host, exed.log());
        CHECK(host->optValue<std::string>("stdout", "") == "real-" + std::to_string(i) + "\n");
    }
    CHECK(impostor.commands_answered() == 0);
    CHECK(listed(port, "*") == R"(["web1"])");
    impostor.stop();

    // Refused as "another key for the name", logged and audited.
    CHECK(impostor.refusals("mismatch") >= 1);
    CHECK(exed.log().find("refused agent 'web1'") != std::string::npos);
    auto audit = http("GET", port, "/audit?limit=1000");
    REQUIRE(audit.status == 200);
    CHECK(audit.body.find(R"("operation":"agent mismatch")") != std::string::npos);
    // The name stays bound to the real node's key.
    auto nodes = nodes_of(port);
    REQUIRE(nodes.count("web1"));
    CHECK(nodes["web1"]->getValue<std::string>("fingerprint") ==
          openssl_fingerprint(shared_keys_dir() + "/web1.pub.pem"));
    CHECK(nodes["web1"]->getValue<bool>("connected"));
}

TEST_CASE("agent identity: a forged end for another node's run is ignored") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis));
    exed.start();
    int port = exed.port();
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file, "allow_exec = true");
    web1.start();
    RogueAgent evil(site.agent_port, "evil");  // a node in its own right (auto_accept)
    evil.start();
    REQUIRE(wait_until([&] { return listed(port, "*") == R"(["evil","web1"])"; }, 20));

    std::string script = site.dir.write("gated.sh", "echo first\ntouch " + site.dir.file("started") +
                                                        "\ni=0\nwhile [ ! -e " + site.dir.file("go") +
                                                        " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n"
                                                        "echo third\n");
    auto r = http("POST", port, "/execute", R"({"targets":["web1"],"cmd":"sh )" + script + R"("})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    std::string jid = r.object()->getValue<std::string>("jid");
    REQUIRE(wait_until([&] { return file_exists(site.dir.file("started")); }, 15));

    // Run ids are predictable (<job>/<n>/<node>): evil speaks for web1's run.
    std::string run_id = jid + "/1/web1";
    Poco::JSON::Object out;
    out.set("type", std::string("output"));
    out.set("run_id", run_id);
    out.set("seq", 99);
    out.set("stream", std::string("stdout"));
    out.set("data", std::string("forged\n"));
    evil.send(json_text(out));
    Poco::JSON::Object end;
    end.set("type", std::string("end"));
    end.set("run_id", run_id);
    end.set("exit", 0);
    end.set("time", std::string("2026-01-01T00:00:00Z"));
    evil.send(json_text(end));

    // exed either drops it (and says so) or, as before, ends web1's run with it.
    REQUIRE(wait_until([&] {
        return exed.log().find("dropped a 'end' message for run " + run_id) != std::string::npos ||
               job_field(port, jid, "status") != "running";
    }, 15));
    CHECK(job_field(port, jid, "status") == "running");

    site.dir.write("go", "");
    CHECK(wait_ended(port, jid, 30) == "done");
    auto host = http("GET", port, "/jobs/" + jid + "?outputs=1").object()->getObject("return_data")->getObject("web1");
    REQUIRE(host);
    CHECK(host->getValue<std::string>("stdout") == "first\nthird\n");
    CHECK(host->getValue<int>("rtc") == 0);
}

TEST_CASE("agent identity: enrolment: pending until accepted (CLI and API), reject, delete and enrol again") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis, "", false));  // the default: auto_accept = false
    exed.start();
    int port = exed.port();
    TempDir state;
    AgentProcess web1(server_of(site), "web1", site.key + ".pub", site.token_file,
                      "allow_exec = true\nstate_dir = " + state.file("agent"));
    web1.start();
    const std::string cli = exed_binary() + " node ";
    const std::string conf = " -c " + exed.conf_path();

    // First start: the node made its key (0600) and waits, not listed.
    REQUIRE_MESSAGE(wait_until([&] { return node_state(port, "web1") == "pending"; }, 20), web1.log());
    struct stat st {};
    REQUIRE(stat(state.file("agent/keys/web1.pem").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto pending = nodes_of(port)["web1"];
    CHECK(pending->getValue<std::string>("fingerprint") == openssl_fingerprint(state.file("agent/keys/web1.pub.pem")));
    CHECK_FALSE(pending->getValue<bool>("connected"));
    CHECK(listed(port, "*") == "[]");
    int rc = -1;
    std::string list = capture(cli + "list" + conf, &rc);
    CHECK(rc == 0);
    CHECK(list.find("web1") != std::string::npos);
    CHECK(list.find("pending") != std::string::npos);
    CHECK(list.find(pending->getValue<std::string>("fingerprint")) != std::string::npos);
    CHECK(web1.log().find("waits for an operator") != std::string::npos);

    // Accepted with the CLI: the agent's next dial is listed and runs.
    capture(cli + "accept web1" + conf, &rc);
    CHECK(rc == 0);
    REQUIRE_MESSAGE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 30), web1.log());
    std::string status;
    auto host = run_echo(port, "web1", "enrolled", status);
    CHECK(status == "done");
    REQUIRE(host);
    CHECK(host->getValue<std::string>("stdout") == "enrolled\n");
    CHECK(nodes_of(port)["web1"]->getValue<bool>("connected"));

    // Rejected through the API: disconnected, and refused when it dials again.
    auto r = http("POST", port, "/nodes/web1/reject");
    CHECK(r.status == 200);
    REQUIRE(wait_until([&] { return listed(port, "*") == "[]"; }, 20));
    CHECK(wait_until([&] { return web1.log().find("was rejected") != std::string::npos; }, 30));
    CHECK(listed(port, "*") == "[]");
    CHECK(node_state(port, "web1") == "rejected");

    // Deleted with the CLI: the name is free, the node enrols again (pending),
    // and an API accept lists it.
    capture(cli + "delete web1" + conf, &rc);
    CHECK(rc == 0);
    REQUIRE(wait_until([&] { return node_state(port, "web1") == "pending"; }, 30));
    CHECK(http("POST", port, "/nodes/web1/accept").status == 200);
    REQUIRE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 30));
    host = run_echo(port, "web1", "again", status);
    CHECK(status == "done");
    REQUIRE(host);
    CHECK(host->getValue<std::string>("stdout") == "again\n");

    // Operator actions are audited; bad requests are JSON errors.
    auto audit = http("GET", port, "/audit?limit=1000").body;
    CHECK(audit.find(R"("path":"/nodes/web1/reject")") != std::string::npos);
    CHECK(audit.find(R"("path":"/nodes/web1/accept")") != std::string::npos);
    CHECK(audit.find(R"("operation":"node accept")") != std::string::npos);  // the CLI's line
    r = http("POST", port, "/nodes/nosuch/accept");
    CHECK(r.status == 404);
    CHECK(!r.message().empty());
    CHECK(http("DELETE", port, "/nodes/nosuch").status == 404);
    r = http("POST", port, "/nodes/-bad%20name/reject");
    CHECK(r.status == 400);
    CHECK(!r.message().empty());
    capture(cli + "accept nosuch" + conf, &rc);
    CHECK(rc == 1);
}

TEST_CASE("agent identity: auto_accept accepts the first key seen for a name and pins it") {
    AgentSite site;
    SharedRedis redis;
    // The plugins in exed's own process: exed serves the SDK's node_registry
    // itself (the other cases go through the plugin host's registry).
    ExedProcess exed(site.exed_config(redis, "[plugins]\nisolation = in_process\n"));
    exed.start();
    int port = exed.port();
    TempDir a, b;
    AgentProcess first(server_of(site), "web1", site.key + ".pub", site.token_file, "state_dir = " + a.file("s"));
    first.start();
    REQUIRE(wait_until([&] { return listed(port, "*") == R"(["web1"])"; }, 20));
    std::string pinned = openssl_fingerprint(a.file("s/keys/web1.pub.pem"));
    CHECK(nodes_of(port)["web1"]->getValue<std::string>("state") == "accepted");
    CHECK(nodes_of(port)["web1"]->getValue<std::string>("fingerprint") == pinned);

    // Another machine (another key) with the same name: refused, even while
    // the first is away; the record keeps the first key.
    first.stop();
    REQUIRE(wait_until([&] { return listed(port, "*") == "[]"; }, 20));
    AgentProcess second(server_of(site), "web1", site.key + ".pub", site.token_file, "state_dir = " + b.file("s"));
    second.start();
    CHECK(wait_until([&] { return second.log().find("another key is recorded") != std::string::npos; }, 20));
    CHECK(listed(port, "*") == "[]");
    CHECK(nodes_of(port)["web1"]->getValue<std::string>("fingerprint") == pinned);
}
