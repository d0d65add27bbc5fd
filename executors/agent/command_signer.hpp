// Signs the commands exed sends to agents: the fields become one compact
// JSON object text (with the domain tag "exed-agent-command/2"), the
// payload; RSA PKCS#1 v1.5 with SHA-256 signs exactly those bytes, and the
// payload travels as a string, so the agent verifies the bytes it then
// parses. No two field sets give the same payload (JSON quotes every
// string), unlike the 1.x "key: value" lines. The key is created (0600,
// with <path>.pub) if missing.
#pragma once

#include <exed/sdk.hpp>

#include <Poco/Crypto/RSAKey.h>

#include <map>
#include <memory>
#include <string>

namespace exed::agent_executor {

class CommandSigner {
public:
    CommandSigner(const std::string& key_path, const exed::Host& host);

    // {"type":"command","run_id":R,"payload":"<JSON text>","signature":"..."}
    // as JSON text (run_id outside: only where the agent sends a refusal).
    std::string signed_command(const std::map<std::string, std::string>& fields) const;
    // Base64 signature over exactly `bytes`.
    std::string signature(const std::string& bytes) const;

private:
    std::unique_ptr<Poco::Crypto::RSAKey> key_;
};

// Fields every command carries besides action/command/argv/run_id/node:
// time (RFC 3339, now) and a fresh random nonce.
void stamp(std::map<std::string, std::string>& fields);

}  // namespace exed::agent_executor
