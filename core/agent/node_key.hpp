// A node's own key pair (issue 24): ECDSA P-256, made on the node's first
// start in `[agent] state_dir`/keys/<node>.pem (private, 0600, created with
// O_CREAT|O_EXCL before a byte is written) and <node>.pub.pem (the public
// half, for the operator to compare fingerprints). Each connection proves
// the node holds it by signing exed's challenge (docs/agent.md, Enrolment).
// `instances = N` gives each emulated node its own key.
#pragma once

#include <memory>
#include <string>

struct ec_key_st;  // OpenSSL's EC_KEY

namespace exed::agent {

class NodeKey {
public:
    // Loads the node's key, creating it (and state_dir/keys, 0700) on first
    // use. Throws std::runtime_error naming the file on failure.
    NodeKey(const std::string& state_dir, const std::string& node);

    const std::string& public_pem() const { return public_pem_; }
    bool created() const { return created_; }  // made by this process (not yet synced to disk)
    // base64 ECDSA/SHA-256 signature over hello_text(node, challenge).
    std::string sign_hello(const std::string& challenge) const;

    // The text a hello signs; exed's executors/agent/node_identity.cpp has
    // the same (plugins share no code with the core): a domain tag, the
    // node and the challenge, one per line.
    static std::string hello_text(const std::string& node, const std::string& challenge);

private:
    std::string node_;
    std::unique_ptr<ec_key_st, void (*)(ec_key_st*)> key_;
    std::string public_pem_;
    bool created_ = false;
};

}  // namespace exed::agent
