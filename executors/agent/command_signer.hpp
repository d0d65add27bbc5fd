// Signs the commands exed sends to agents: RSA PKCS#1 v1.5 with SHA-256
// over the sorted "key: value" lines joined by "\n", base64 (the Shovey
// spec's scheme). The key is created (0600, with <path>.pub) if missing.
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

    // {"type":"command","fields":{...},"signature":"..."} as JSON text.
    std::string signed_command(const std::map<std::string, std::string>& fields) const;
    std::string signature(const std::map<std::string, std::string>& fields) const;

private:
    std::unique_ptr<Poco::Crypto::RSAKey> key_;
};

// Fields every command carries besides action/command/argv/run_id/node:
// time (RFC 3339, now) and a fresh random nonce.
void stamp(std::map<std::string, std::string>& fields);

}  // namespace exed::agent_executor
