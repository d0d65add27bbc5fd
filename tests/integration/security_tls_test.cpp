// TLS on the API with certificates made by the real openssl CLI at test
// time: HTTPS works, plain HTTP and old protocols are refused, and client
// certificates are asked for (optional) or required (mTLS).
#include "security_support.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>

#include <cstdlib>

using namespace exed::test;

namespace {

int sh(const std::string& cmd) {
    int rc = std::system(("(" + cmd + ") >/dev/null 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A CA, a server certificate for 127.0.0.1, a client certificate from the
// same CA, and one from a CA exed does not trust.
struct Pki {
    TempDir dir;
    std::string f(const std::string& n) const { return dir.file(n); }
    Pki() {
        auto ca = [&](const std::string& name) {
            REQUIRE(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout " +
                       f(name + ".key") + " -out " + f(name + ".crt") + " -subj /CN=" + name) == 0);
        };
        auto leaf = [&](const std::string& name, const std::string& ca_name, const std::string& ext) {
            dir.write(name + ".ext", ext + "\n");
            REQUIRE(sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + f(name + ".key") +
                       " -out " + f(name + ".csr") + " -subj /CN=" + (name == "server" ? "127.0.0.1" : name)) == 0);
            REQUIRE(sh("openssl x509 -req -days 2 -in " + f(name + ".csr") + " -CA " + f(ca_name + ".crt") + " -CAkey " +
                       f(ca_name + ".key") + " -CAcreateserial -out " + f(name + ".crt") + " -extfile " +
                       f(name + ".ext")) == 0);
        };
        ca("ca");
        ca("rogue-ca");
        leaf("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
        leaf("client", "ca", "extendedKeyUsage=clientAuth");
        leaf("rogue", "rogue-ca", "extendedKeyUsage=clientAuth");
    }
    std::string api(const std::string& client_auth) const {
        std::string s = "[api]\ntls_cert = " + f("server.crt") + "\ntls_key = " + f("server.key") + "\n";
        if (!client_auth.empty()) s += "tls_ca = " + f("ca.crt") + "\ntls_client_auth = " + client_auth + "\n";
        return s;
    }
};

// GET over HTTPS trusting the test CA; `client` names a client cert or "".
HttpResponse https_get(const Pki& pki, int port, const std::string& path, const std::string& client = "") {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Params p;
    p.caLocation = pki.f("ca.crt");
    p.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    p.loadDefaultCAs = false;
    if (!client.empty()) {
        p.certificateFile = pki.f(client + ".crt");
        p.privateKeyFile = pki.f(client + ".key");
    }
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
    Poco::Net::HTTPSClientSession session("127.0.0.1", Poco::UInt16(port), ctx);
    session.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest req("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    HttpResponse out;
    out.status = int(resp.getStatus());
    Poco::StreamCopier::copyToString(in, out.body);
    return out;
}

std::string s_client(int port, const std::string& proto) {
    return "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " " + proto +
           " -cipher 'DEFAULT:@SECLEVEL=0' </dev/null";
}

}  // namespace

TEST_CASE("TLS: HTTPS answers, plain HTTP on the TLS port gets no answer, old protocols are refused") {
    Pki pki;
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url(), pki.api("")));
    exed.start();
    auto r = https_get(pki, exed.port(), "/ping?target=node1");
    CHECK(r.status == 200);
    CHECK(r.body.find("\"node1\"") != std::string::npos);
    CHECK_THROWS(http("GET", exed.port(), "/ping?target=node1", "", {}, 5));
    CHECK(exed.alive());
    CHECK(sh(s_client(exed.port(), "-tls1_2")) == 0);
    CHECK(sh(s_client(exed.port(), "-tls1_3")) == 0);
    CHECK(sh(s_client(exed.port(), "-tls1_1")) != 0);
    CHECK(sh(s_client(exed.port(), "-tls1")) != 0);
    CHECK(https_get(pki, exed.port(), "/jobs").status == 200);  // still serving after the refusals
}

TEST_CASE("TLS: tls_client_auth = required refuses clients without a certificate from tls_ca") {
    Pki pki;
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url(), pki.api("required")));
    exed.start();
    CHECK(https_get(pki, exed.port(), "/jobs", "client").status == 200);
    CHECK_THROWS(https_get(pki, exed.port(), "/jobs"));
    CHECK_THROWS(https_get(pki, exed.port(), "/jobs", "rogue"));
    CHECK(https_get(pki, exed.port(), "/jobs", "client").status == 200);
}

TEST_CASE("TLS: tls_client_auth = optional admits clients without one, but checks a certificate sent") {
    Pki pki;
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url(), pki.api("optional")));
    exed.start();
    CHECK(https_get(pki, exed.port(), "/jobs").status == 200);
    CHECK(https_get(pki, exed.port(), "/jobs", "client").status == 200);
    CHECK_THROWS(https_get(pki, exed.port(), "/jobs", "rogue"));
}

TEST_CASE("TLS: settings that cannot work stop exed at start (78)") {
    Pki pki;
    SharedRedis redis;
    for (const std::string& bad : std::vector<std::string>{
             "[api]\ntls_cert = " + pki.f("server.crt") + "\n",  // no key
          pki.api("") + "tls_client_auth = required\n",        // no CA
          pki.api("") + "tls_ca = " + pki.f("ca.crt") + "\ntls_client_auth = maybe\n",
          "[api]\ntls_cert = /nonexistent.crt\ntls_key = /nonexistent.key\n"}) {
        ExedProcess exed(test_config(redis.url(), bad));
        CHECK_MESSAGE(exed.run_to_exit({"-c", exed.conf_path()}) == 78, bad);
        CHECK(exed.log().find("api.tls") != std::string::npos);
    }
}
