// OpenSSL 3 deprecates the EC_KEY functions, but its provider decoders
// (EVP_PKEY from PEM) cost ~0.4 ms per key where PEM_read_bio_EC_PUBKEY costs
// ~0.04 ms: every agent connection presents a key, 1,000 at once after a
// restart of exed. Same library, same checks, the older entry points.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "nodes/fingerprint.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/SHA2Engine.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <sstream>
#include <vector>

namespace exed::nodes {

std::string fingerprint(const std::string& pem) {
    if (pem.size() > 4096) throw BadKey("public key too long");
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())), &BIO_free);
    std::unique_ptr<EC_KEY, decltype(&EC_KEY_free)> key(
        bio ? PEM_read_bio_EC_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr, &EC_KEY_free);
    if (!key) throw BadKey("no EC public key in PEM");
    if (EC_GROUP_get_curve_name(EC_KEY_get0_group(key.get())) != NID_X9_62_prime256v1)
        throw BadKey("node keys are ECDSA P-256 (prime256v1)");
    int n = i2d_EC_PUBKEY(key.get(), nullptr);  // the DER SubjectPublicKeyInfo
    if (n <= 0) throw BadKey("public key cannot be encoded");
    std::vector<unsigned char> der(static_cast<size_t>(n));
    unsigned char* p = der.data();
    i2d_EC_PUBKEY(key.get(), &p);
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(der.data(), der.size());
    std::ostringstream b64;
    Poco::Base64Encoder enc(b64);
    enc.rdbuf()->setLineLength(0);
    auto digest = sha.digest();
    enc.write(reinterpret_cast<const char*>(digest.data()), std::streamsize(digest.size()));
    enc.close();
    std::string text = b64.str();
    while (!text.empty() && text.back() == '=') text.pop_back();
    return "SHA256:" + text;
}

}  // namespace exed::nodes
