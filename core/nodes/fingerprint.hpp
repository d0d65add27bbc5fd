// A node's public key as exed pins it: the PEM an agent presents is parsed
// (it must be an EC key on P-256, the only algorithm nodes use; docs/security.md)
// and named by its fingerprint, "SHA256:" + base64 (unpadded) of the SHA-256
// of the key's DER SubjectPublicKeyInfo -- the same bytes and spelling as
// `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`
// (OpenSSH spells its key fingerprints the same way). Two PEM texts of one key
// (line breaks, headers) have one fingerprint; the registry compares those.
#pragma once

#include <stdexcept>
#include <string>

namespace exed::nodes {

struct BadKey : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// Throws BadKey when `pem` is no P-256 public key.
std::string fingerprint(const std::string& pem);

}  // namespace exed::nodes
