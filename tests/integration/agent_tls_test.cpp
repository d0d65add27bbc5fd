// TLS between agents and exed's agent listener, with certificates made by
// the real openssl CLI at test time: an agent trusting the right CA
// connects over wss and runs commands; one trusting another CA, and one
// speaking plain ws to the TLS port, are refused and never listed; with
// tls_ca, an agent without a client certificate from it is refused.
#include "integration/agent_support.hpp"

#include <doctest/doctest.h>

#include <Poco/Net/StreamSocket.h>

#include <cstdlib>
#include <vector>

using namespace exed::test;

namespace {

int sh(const std::string& cmd) {
    int rc = std::system(("(" + cmd + ") >/dev/null 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Two CAs; a listener certificate for 127.0.0.1 and an agent client
// certificate, both from "ca".
struct AgentPki {
    TempDir dir;
    std::string f(const std::string& n) const { return dir.file(n); }
    void make_ca(const std::string& name) {
        REQUIRE(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout " +
                   f(name + ".key") + " -out " + f(name + ".crt") + " -subj /CN=" + name) == 0);
    }
    void make_leaf(const std::string& name, const std::string& cn, const std::string& ext) {
        dir.write(name + ".ext", ext + "\n");
        REQUIRE(sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + f(name + ".key") +
                   " -out " + f(name + ".csr") + " -subj /CN=" + cn) == 0);
        REQUIRE(sh("openssl x509 -req -days 2 -in " + f(name + ".csr") + " -CA " + f("ca.crt") + " -CAkey " +
                   f("ca.key") + " -CAcreateserial -out " + f(name + ".crt") + " -extfile " + f(name + ".ext")) == 0);
    }
    AgentPki() {
        make_ca("ca");
        make_ca("rogue-ca");
        make_leaf("listener", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
        make_leaf("agent", "web1", "extendedKeyUsage=clientAuth");
    }
    std::string listener(bool client_certs) const {
        std::string s = "tls_cert = " + f("listener.crt") + "\ntls_key = " + f("listener.key") + "\n";
        if (client_certs) s += "tls_ca = " + f("ca.crt") + "\n";
        return s;
    }
};

std::string wss(const AgentSite& site) { return "https://127.0.0.1:" + std::to_string(site.agent_port); }

// True once the agent logged a failed dial: it tried, and was refused.
bool refused(const AgentProcess& a) { return a.log().find("cannot reach exed") != std::string::npos; }

}  // namespace

TEST_CASE("agent TLS: an agent trusting the listener CA runs commands over TLS and a wrong CA or plain ws is refused") {
    AgentPki pki;
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis, pki.listener(false)));
    exed.start();
    int port = exed.port();
    const std::string pub = site.key + ".pub";
    AgentProcess good(wss(site), "web1", pub, site.token_file, "allow_exec = true\nca_file = " + pki.f("ca.crt"));
    AgentProcess wrong_ca(wss(site), "rogue", pub, site.token_file, "ca_file = " + pki.f("rogue-ca.crt"));
    AgentProcess plain("http://127.0.0.1:" + std::to_string(site.agent_port), "plain", pub, site.token_file);
    good.start();
    wrong_ca.start();
    plain.start();
    REQUIRE_MESSAGE(wait_until([&] { return listed(port, "web1") == R"(["web1"])"; }, 20), good.log());

    auto r = http("GET", port, "/ping?target=web1");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.object()->getObject("web1")->getValue<int>("status") == 0);
    // Several frames each way (ack, output chunks, end) over the TLS stream.
    r = http("GET", port, "/execute?target=web1&cmd=" + q("seq 1 20000"));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto out = r.object()->getObject("web1")->getValue<std::string>("stdout");
    CHECK(out.size() == 108894);  // "1\n" ... "20000\n": also what seq wrote just before it exited
    CHECK(out.rfind("19999\n20000\n") == out.size() - 12);

    REQUIRE_MESSAGE(wait_until([&] { return refused(wrong_ca) && refused(plain); }, 20),
                    std::string(wrong_ca.log() + plain.log()));
    CHECK_MESSAGE(wrong_ca.log().find("certificate verify failed") != std::string::npos, wrong_ca.log());
    CHECK(listed(port, "*") == R"(["web1"])");
    CHECK(exed.alive());
}

TEST_CASE("agent TLS: with tls_ca only agents with a client certificate from that CA are listed") {
    AgentPki pki;
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis, pki.listener(true)));
    exed.start();
    int port = exed.port();
    const std::string pub = site.key + ".pub";
    const std::string trust = "ca_file = " + pki.f("ca.crt") + "\n";
    AgentProcess with_cert(wss(site), "web1", pub, site.token_file,
                           trust + "cert_file = " + pki.f("agent.crt") + "\nkey_file = " + pki.f("agent.key"));
    AgentProcess without(wss(site), "nocert", pub, site.token_file, trust);
    with_cert.start();
    without.start();
    REQUIRE_MESSAGE(wait_until([&] { return listed(port, "web1") == R"(["web1"])"; }, 20), with_cert.log());
    auto r = http("GET", port, "/ping?target=web1");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.object()->getObject("web1")->getValue<int>("status") == 0);
    REQUIRE_MESSAGE(wait_until([&] { return refused(without); }, 20), without.log());
    CHECK(listed(port, "*") == R"(["web1"])");
}

TEST_CASE("agent TLS: 50 idle TCP connections to the TLS listener do not lock agents out") {
    AgentPki pki;
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis, pki.listener(false)));
    exed.start();
    int port = exed.port();
    // Connected, no ClientHello: before, each held one of the 4 handshake
    // threads for Poco's 60 s.
    std::vector<Poco::Net::StreamSocket> idle;
    for (int i = 0; i < 50; ++i) {
        idle.emplace_back();
        idle.back().connect(Poco::Net::SocketAddress("127.0.0.1", Poco::UInt16(site.agent_port)), Poco::Timespan(5, 0));
    }
    AgentProcess web1(wss(site), "web1", site.key + ".pub", site.token_file, "ca_file = " + pki.f("ca.crt"));
    web1.start();
    CHECK_MESSAGE(wait_until([&] { return listed(port, "web1") == R"(["web1"])"; }, 2), web1.log());
    REQUIRE_MESSAGE(wait_until([&] { return listed(port, "web1") == R"(["web1"])"; }, 20), web1.log());
    auto r = http("GET", port, "/ping?target=web1");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.object()->getObject("web1")->getValue<int>("status") == 0);
}
