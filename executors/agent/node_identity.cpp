// OpenSSL 3 deprecates the EC_KEY functions, but its provider decoder (what
// Poco's ECKey(istream) uses, which also re-checks the key with a point
// multiplication) costs ~0.5 ms per key against ~0.04 ms: the reactor checks
// every agent's hello, 1,000 at once after a restart of exed.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "node_identity.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/RandomStream.h>
#include <Poco/SHA2Engine.h>

#include <memory>
#include <sstream>
#include <vector>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

namespace exed::agent_executor {

namespace {

Greeting refused(const std::string& state, const std::string& reason, const std::string& fp = "") {
    Greeting g;
    g.state = state;
    g.reason = reason;
    g.fingerprint = fp;
    return g;
}

bool signature_valid(const std::string& pem, const std::string& text, const std::string& signature_b64,
                     std::string& why) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())), &BIO_free);
    std::unique_ptr<EC_KEY, decltype(&EC_KEY_free)> ec(
        bio ? PEM_read_bio_EC_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr, &EC_KEY_free);
    if (!ec || EC_GROUP_get_curve_name(EC_KEY_get0_group(ec.get())) != NID_X9_62_prime256v1) {
        why = "the hello's public key is no P-256 public key";
        return false;
    }
    std::string raw;
    try {
        std::istringstream b64(signature_b64);
        Poco::Base64Decoder decoder(b64);
        raw.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
    } catch (const Poco::Exception& e) {
        why = "the hello's signature is no base64";
        return false;
    }
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(text);
    const auto& digest = sha.digest();
    if (ECDSA_verify(0, digest.data(), int(digest.size()), reinterpret_cast<const unsigned char*>(raw.data()),
                     int(raw.size()), ec.get()) == 1)
        return true;
    why = "the hello's signature does not match its key and challenge";
    return false;
}

}  // namespace

std::string new_challenge() {
    char bytes[32];
    Poco::RandomInputStream().read(bytes, sizeof bytes);
    std::ostringstream out;
    Poco::Base64Encoder enc(out);
    enc.rdbuf()->setLineLength(0);
    enc.write(bytes, sizeof bytes);
    enc.close();
    return out.str();
}

std::string hello_text(const std::string& node, const std::string& challenge) {
    return "exed-agent-hello-v1\nnode: " + node + "\nchallenge: " + challenge + "\n";
}

Greeting check_hello(const exed::Host& host, const std::string& node, const std::string& challenge,
                     const Poco::JSON::Object::Ptr& hello, const std::string& remote) {
    if (!hello || hello->optValue<std::string>("type", "") != "hello")
        return refused("invalid", "the first frame must be the agent's hello");
    if (hello->optValue<std::string>("node", "") != node)
        return refused("invalid", "the hello names another node than the connection");
    std::string pem = hello->optValue<std::string>("public_key", "");
    std::string signature = hello->optValue<std::string>("signature", "");
    if (pem.empty() || signature.empty() || pem.size() > 4096 || signature.size() > 1024)
        return refused("invalid", "the hello carries no node key and signature (an agent older than exed 0.2?)");
    std::string why;
    if (!signature_valid(pem, hello_text(node, challenge), signature, why)) return refused("invalid", why);
    Poco::JSON::Object req;
    req.set("op", std::string("present"));
    req.set("node", node);
    req.set("public_key", pem);
    req.set("remote", remote);
    std::ostringstream text;
    req.stringify(text);
    Poco::JSON::Object::Ptr answer;
    try {
        answer = Poco::JSON::Parser().parse(host.node_registry(text.str())).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception& e) {
        return refused("unavailable", std::string("the node registry cannot be asked: ") + e.what());
    }
    std::string state = answer->optValue<std::string>("state", "");
    std::string fp = answer->optValue<std::string>("fingerprint", "");
    if (state == "accepted") {
        Greeting g;
        g.ok = true;
        g.state = state;
        g.fingerprint = fp;
        return g;
    }
    if (state == "pending")
        return refused(state, "key " + fp + " waits for an operator: exed node accept " + node, fp);
    if (state == "mismatch")
        return refused(state, "another key is recorded for the name " + node + " (this one is " + fp + ")", fp);
    if (state == "rejected") return refused(state, "the key " + fp + " of " + node + " was rejected", fp);
    return refused(state.empty() ? "invalid" : state, "the node registry refused " + node + " (" + state + ")", fp);
}

int64_t registry_version(const exed::Host& host) {
    try {
        auto answer =
            Poco::JSON::Parser().parse(host.node_registry(R"({"op":"version"})")).extract<Poco::JSON::Object::Ptr>();
        if (answer && answer->has("version")) return answer->getValue<int64_t>("version");
    } catch (const Poco::Exception& e) {
        throw exed::Error("node registry version: " + e.displayText());
    }
    throw exed::Error("node registry version: no \"version\"");
}

std::map<std::string, std::string> accepted_keys(const exed::Host& host) {
    std::map<std::string, std::string> out;
    Poco::JSON::Object::Ptr answer;
    try {
        answer = Poco::JSON::Parser().parse(host.node_registry(R"({"op":"list"})")).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        throw exed::Error("node registry list: " + e.displayText());
    }
    auto list = answer ? answer->getArray("nodes") : nullptr;
    if (!list) throw exed::Error("node registry list: no \"nodes\" array");
    for (size_t i = 0; i < list->size(); ++i) {
        auto o = list->getObject(i);
        if (o && o->optValue<std::string>("state", "") == "accepted")
            out[o->optValue<std::string>("name", "")] = o->optValue<std::string>("fingerprint", "");
    }
    return out;
}

}  // namespace exed::agent_executor
