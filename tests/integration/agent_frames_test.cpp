// The agent's side of the frame limits (issue 24, item 6; docs/agent.md,
// Limits): a real `exed agent` emulating two nodes dials a stand-in exed
// written here, which sends one node a frame by halves (the header, then
// a byte every 2 s) while it pings the other. The agent's one loop must
// go on answering the other node, and drop the half-sent frame's
// connection: at once over max_frame, after frame_timeout below it.
#include "integration/agent_support.hpp"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/URI.h>

#include <doctest/doctest.h>

#include <atomic>
#include <memory>

#include <poll.h>
#include <sys/socket.h>

using namespace exed::test;

namespace {

using Clock = std::chrono::steady_clock;

class TricklingExed {
public:
    explicit TricklingExed(uint64_t announced) : announced_(announced) {
        Poco::Crypto::RSAKey key(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE);
        key.save(dir_.file("signing.pem.pub"), "");
        Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));
        port_ = listener.address().port();
        auto params = new Poco::Net::HTTPServerParams;
        params->setKeepAlive(false);
        params->setMaxThreads(8);
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), listener, params);
        server_->start();
    }
    ~TricklingExed() { stop(); }
    void stop() {
        stop_ = true;
        if (server_) server_->stopAll(true);
        server_.reset();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::string public_key() const { return dir_.file("signing.pem.pub"); }
    bool both_connected() const { return trickled_ > 0 && pinged_ > 0; }

    std::atomic<int> pongs{0};
    std::atomic<int> missed{0};           // pings unanswered within 1.5 s
    std::atomic<double> worst{0};         // slowest pong, seconds
    std::atomic<double> closed_after{-1}; // header sent -> the agent closed that connection

private:
    // The header of a server frame (unmasked): FIN + text, 64-bit length.
    void trickle(Poco::Net::WebSocket& ws) {
        int fd = ws.impl()->sockfd();
        std::string header = {char(0x81), char(127)};
        for (int i = 7; i >= 0; --i) header += char((announced_ >> (8 * i)) & 0xff);
        (void)::send(fd, header.data(), header.size(), MSG_NOSIGNAL);
        auto sent = Clock::now();
        auto next = sent + std::chrono::seconds(2);
        char sink[4096];
        while (!stop_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 100) > 0) {
                ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);  // heartbeats: ignored
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                    closed_after = std::chrono::duration<double>(Clock::now() - sent).count();
                    return;
                }
            }
            if (Clock::now() >= next) {
                (void)::send(fd, "x", 1, MSG_NOSIGNAL);
                next += std::chrono::seconds(2);
            }
        }
    }

    void ping(Poco::Net::WebSocket& ws) {
        ws.setReceiveTimeout(Poco::Timespan(0, 100000));
        char buf[65536];
        for (int i = 0; !stop_; ++i) {
            std::string run_id = "p" + std::to_string(i);
            std::string frame = R"({"type":"ping","run_id":")" + run_id + "\"}";
            auto t0 = Clock::now();
            ws.sendFrame(frame.data(), int(frame.size()));
            bool answered = false;
            while (!answered && !stop_ && Clock::now() - t0 < std::chrono::milliseconds(1500)) {
                int flags = 0;
                int n = 0;
                try {
                    n = ws.receiveFrame(buf, sizeof buf, flags);
                } catch (const Poco::TimeoutException&) {
                    continue;
                }
                if (n <= 0) return;
                auto msg = Poco::JSON::Parser().parse(std::string(buf, size_t(n))).extract<Poco::JSON::Object::Ptr>();
                answered = msg->optValue<std::string>("type", "") == "pong" &&
                           msg->optValue<std::string>("run_id", "") == run_id;
            }
            if (stop_) return;
            double took = std::chrono::duration<double>(Clock::now() - t0).count();
            if (!answered) ++missed;
            else ++pongs;
            if (took > worst) worst = took;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }

    struct Accept : Poco::Net::HTTPRequestHandler {
        explicit Accept(TricklingExed& e) : exed(e) {}
        void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
            std::string node;
            for (auto& [k, v] : Poco::URI(req.getURI()).getQueryParameters())
                if (k == "node") node = v;
            Poco::Net::WebSocket ws(req, resp);
            ws.setReceiveTimeout(Poco::Timespan(10, 0));
            char hello[4096];  // the hello carries the node's public key and signature
            int flags = 0;
            ws.receiveFrame(hello, sizeof hello, flags);  // the agent speaks first
            if (node == "n-1" && exed.trickled_++ == 0) exed.trickle(ws);
            else if (node == "n-2" && exed.pinged_++ == 0) exed.ping(ws);
            while (!exed.stop_) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a reconnect: idle
        }
        TricklingExed& exed;
    };
    struct Factory : Poco::Net::HTTPRequestHandlerFactory {  // owned by the server
        explicit Factory(TricklingExed& e) : exed(e) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
            return new Accept(exed);
        }
        TricklingExed& exed;
    };

    uint64_t announced_;
    TempDir dir_;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> trickled_{0};
    std::atomic<int> pinged_{0};
    std::unique_ptr<Poco::Net::HTTPServer> server_;
};

// Runs the agent (nodes n-1, n-2) against a stand-in trickling a frame of
// `announced` bytes to n-1 for 6 s while it pings n-2.
void trickle_for_six_seconds(TricklingExed& exed, AgentProcess& agent) {
    agent.start();
    REQUIRE_MESSAGE(wait_until([&] { return exed.both_connected(); }, 20), agent.log());
    std::this_thread::sleep_for(std::chrono::seconds(6));
    exed.stop();
}

}  // namespace

TEST_CASE("exed agent: a frame from exed over max_frame drops that connection at once, the other nodes go on") {
    TricklingExed exed(100000000);  // the issue's 100 MB, over the 16 MiB default
    TempDir dir;
    std::string token = dir.write("token", kAgentToken + "\n");
    AgentProcess agent(exed.url(), "n", exed.public_key(), token, "instances = 2");
    trickle_for_six_seconds(exed, agent);
    CHECK_MESSAGE(exed.closed_after.load() >= 0, agent.log());
    CHECK(exed.closed_after.load() < 3);
    CHECK_MESSAGE(agent.log().find("more than max_frame") != std::string::npos, agent.log());
    // n-2's pings all answered, each far below the 1.5 s counted as missed.
    CHECK(exed.pongs.load() >= 10);
    CHECK(exed.missed.load() == 0);
    CHECK(exed.worst.load() < 1.0);
}

TEST_CASE("exed agent: a frame from exed sent by halves never holds the other nodes and is dropped after "
          "frame_timeout") {
    TricklingExed exed(1000000);  // under max_frame: only time can tell
    TempDir dir;
    std::string token = dir.write("token", kAgentToken + "\n");
    AgentProcess agent(exed.url(), "n", exed.public_key(), token, "instances = 2\nframe_timeout = 1");
    trickle_for_six_seconds(exed, agent);
    CHECK_MESSAGE(exed.closed_after.load() >= 0, agent.log());
    CHECK(exed.closed_after.load() < 4);
    CHECK_MESSAGE(agent.log().find("frame_timeout") != std::string::npos, agent.log());
    CHECK(exed.pongs.load() >= 10);
    CHECK(exed.missed.load() == 0);
    CHECK(exed.worst.load() < 1.0);
}
