#include "nodes/fingerprint.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/EVPPKey.h>
#include <Poco/SHA2Engine.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <sstream>
#include <vector>

namespace exed::nodes {

std::string fingerprint(const std::string& pem) {
    if (pem.size() > 4096) throw BadKey("public key too long");
    std::vector<unsigned char> der;
    try {
        std::istringstream in(pem);
        Poco::Crypto::EVPPKey evp(&in, nullptr);  // throws on anything but a PEM public key
        char group[64] = {0};
        size_t len = 0;
        if (EVP_PKEY_get_base_id(static_cast<EVP_PKEY*>(evp)) != EVP_PKEY_EC ||
            !EVP_PKEY_get_group_name(static_cast<EVP_PKEY*>(evp), group, sizeof group, &len) ||
            std::string(group) != "prime256v1")
            throw BadKey("node keys are ECDSA P-256 (prime256v1)");
        int n = i2d_PUBKEY(static_cast<EVP_PKEY*>(evp), nullptr);
        if (n <= 0) throw BadKey("public key cannot be encoded");
        der.resize(size_t(n));
        unsigned char* p = der.data();
        i2d_PUBKEY(static_cast<EVP_PKEY*>(evp), &p);
    } catch (const Poco::Exception& e) {
        throw BadKey("no EC public key in PEM: " + e.displayText());
    }
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
