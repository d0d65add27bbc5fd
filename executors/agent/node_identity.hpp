// Who is at the other end of an agent connection (issue 24). exed's 101
// answer carries a fresh challenge (X-Exed-Challenge: base64 of 32 random
// bytes); the agent's first frame is its hello:
//   {"type":"hello","node":N,"public_key":"<PEM>","signature":"<base64>"}
// where the signature is ECDSA P-256 / SHA-256 over hello_text(N, challenge).
// A valid signature proves the peer holds the key's private half now (the
// challenge is new for each connection, so a recorded hello is worthless);
// then the host's node registry (SDK 1.4) says whether that key may use
// the name. The agent's side is core/agent/node_key.cpp.
#pragma once

#include <exed/sdk.hpp>

#include <Poco/JSON/Object.h>

#include <map>
#include <string>

namespace exed::agent_executor {

inline constexpr const char* kChallengeHeader = "X-Exed-Challenge";

// base64 of 32 random bytes (the system's CSPRNG).
std::string new_challenge();

// The signed text. A domain tag, the node name and the challenge, one per
// line: a name holds no newline (the listener's name rule), so two different
// (name, challenge) pairs never give the same text, and no other exed
// signature (commands are signed by exed, not nodes) has this form.
std::string hello_text(const std::string& node, const std::string& challenge);

struct Greeting {
    bool ok = false;
    std::string state;        // accepted | pending | rejected | mismatch | full | invalid
    std::string fingerprint;  // of the presented key, when the registry saw it
    std::string reason;       // for the log and the agent's refused frame
};

// Checks a connection's first frame for `node` against its challenge, then
// presents the key to the host's registry. ok only for an accepted key.
Greeting check_hello(const exed::Host& host, const std::string& node, const std::string& challenge,
                     const Poco::JSON::Object::Ptr& hello, const std::string& remote);

// The registry's version: it moves with every change of a key or state, so
// a copy of accepted_keys() is read again only when it moved. Throws
// exed::Error when the registry cannot be asked.
int64_t registry_version(const exed::Host& host);

// name -> fingerprint of every accepted node in the host's registry.
// Throws exed::Error when the registry cannot be asked.
std::map<std::string, std::string> accepted_keys(const exed::Host& host);

}  // namespace exed::agent_executor
