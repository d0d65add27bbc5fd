#include "jobs/signature.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/File.h>
#include <Poco/HMACEngine.h>
#include <Poco/RandomStream.h>
#include <Poco/SHA2Engine.h>

#include <fstream>
#include <stdexcept>

#include <sys/stat.h>

namespace exed::jobs {

namespace {

// Poco's HMACEngine wants a block-size-aware engine type: SHA-256 has 64-byte blocks.
class Sha256 : public Poco::SHA2Engine {
public:
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
    Sha256() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

std::string canonical(const Job& j) {
    std::string targets;
    for (auto& t : j.targets) targets += t + "\n";
    // Length-prefixed fields: no value can shift into the next one.
    std::string out;
    const std::string* fields[] = {&j.jid,         &j.operate,     &j.operate_args, &targets,
                                   &j.plugin_kind, &j.plugin_type, &j.plugin_op};
    for (const std::string* f : fields) {
        out += std::to_string(f->size()) + ":" + *f + ";";
    }
    return out + std::to_string(j.run_timeout);
}

}  // namespace

std::string sign(const std::string& secret, const Job& job) {
    Poco::HMACEngine<Sha256> hmac(secret);
    hmac.update(canonical(job));
    return Poco::DigestEngine::digestToHex(hmac.digest());
}

bool signature_valid(const std::string& secret, const Job& job) {
    std::string want = sign(secret, job);
    const std::string& got = job.signature;
    if (got.size() != want.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned char>(want[i] ^ got[i]);
    return diff == 0;
}

std::string load_or_create_secret(const std::string& configured, const std::string& run_dir) {
    if (!configured.empty()) return configured;
    std::string path = run_dir + "/job.key";
    if (!Poco::File(path).exists()) {
        Poco::RandomInputStream random;
        char bytes[32];
        random.read(bytes, sizeof bytes);
        std::string hex = Poco::DigestEngine::digestToHex(
            Poco::DigestEngine::Digest(bytes, bytes + sizeof bytes));
        mode_t old = umask(077);
        std::ofstream(path) << hex << "\n";
        umask(old);
    }
    std::ifstream in(path);
    std::string secret;
    if (!std::getline(in, secret) || secret.empty()) throw std::runtime_error("cannot read " + path);
    return secret;
}

}  // namespace exed::jobs
