// Checks a command exed signed before anything of it runs: the RSA
// PKCS#1 v1.5 / SHA-256 signature over the sorted "key: value" lines, the
// node it is for, its time (within 15 min), its nonce (never seen within
// that window) and that the command is allowed on this node.
#pragma once

#include "agent/agent_config.hpp"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/JSON/Object.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace exed::agent {

// The text the signature covers: "key: value" lines sorted by key, joined by "\n".
std::string canonical_text(const std::map<std::string, std::string>& fields);

struct Verdict {
    bool ok = false;
    std::string reason;             // why it was refused
    std::string action;             // start | cancel | attach
    std::string run_id;
    std::string command;            // exec | facter | service | <named command>
    std::vector<std::string> argv;  // what runs (start of exec/service/named)
    int timeout_s = 0;              // 0: none
};

class CommandVerifier {
public:
    static constexpr int kWindowSeconds = 15 * 60;

    CommandVerifier(const AgentConfig& config);

    // `fields` and `signature` as received; `node` is the connection's node.
    Verdict verify(const Poco::JSON::Object::Ptr& fields, const std::string& signature,
                   const std::string& node);

private:
    bool signature_ok(const std::string& text, const std::string& signature) const;
    bool nonce_fresh(const std::string& node, const std::string& nonce);
    void allowed(Verdict& v, const std::string& argv_json) const;

    const AgentConfig& config_;
    std::unique_ptr<Poco::Crypto::RSAKey> key_;
    std::mutex nonce_mutex_;
    std::map<std::string, std::chrono::steady_clock::time_point> nonces_;  // node/nonce -> expiry
};

}  // namespace exed::agent
