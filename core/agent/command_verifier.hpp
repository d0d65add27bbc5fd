// Checks a command exed signed before anything of it runs: the RSA
// PKCS#1 v1.5 / SHA-256 signature over the exact bytes of its payload (a
// compact JSON object text, parsed only once verified), the payload's
// domain tag, the node it is for, its time (within 15 min), its nonce
// (never seen within that window, across restarts: ReplayGuard) and that
// the command is allowed on this node.
#pragma once

#include "agent/agent_config.hpp"
#include "agent/replay_guard.hpp"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/JSON/Object.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace exed::agent {

// The payload's domain tag (its "domain" field): a signature exed made for
// anything else, or for another version of this form, never verifies as a command.
inline constexpr const char* kCommandDomain = "exed-agent-command/2";

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

    CommandVerifier(const AgentConfig& config, ReplayGuard& guard);

    // `msg`: the command frame as received,
    // {"type":"command","run_id":R,"payload":"<JSON text>","signature":"<base64>"}
    // (run_id outside is only where to send a refusal; the signed one rules).
    // `node` is the connection's node. An accepted nonce is queued in the
    // guard: it is durable once the guard's next commit returned.
    Verdict verify(const Poco::JSON::Object::Ptr& msg, const std::string& node);

private:
    bool signature_ok(const std::string& text, const std::string& signature) const;
    void allowed(Verdict& v, const std::string& argv_json) const;

    const AgentConfig& config_;
    ReplayGuard& guard_;
    std::unique_ptr<Poco::Crypto::RSAKey> key_;
};

}  // namespace exed::agent
