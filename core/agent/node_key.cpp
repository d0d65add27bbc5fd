// OpenSSL's EC_KEY functions, deprecated in OpenSSL 3 but ~20x faster than
// its provider decoders (0.03 ms against 0.7 ms to load a key; Poco's ECKey
// also re-checks the key with a point multiplication): `instances = 1000`
// loads or makes 1,000 keys at every start. Same library, same formats.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "agent/node_key.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/File.h>
#include <Poco/SHA2Engine.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace exed::agent {

namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

void private_dir(const std::string& dir) {
    Poco::File(dir).createDirectories();
    ::chmod(dir.c_str(), 0700);
}

std::string bio_text(BIO* b) {
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    return n > 0 ? std::string(p, size_t(n)) : std::string();
}

// Writes the private key into a file nobody else can open: created 0600
// and exclusively, so an existing file (or a planted symlink) is never
// written through. False when it exists already.
bool create_private(const std::string& path, const std::string& pem) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return false;
        throw std::runtime_error("cannot create node key " + path + ": " + std::strerror(errno));
    }
    size_t done = 0;
    while (done < pem.size()) {
        ssize_t n = ::write(fd, pem.data() + done, pem.size() - done);
        if (n <= 0) {
            ::close(fd);
            ::unlink(path.c_str());
            throw std::runtime_error("cannot write node key " + path + ": " + std::strerror(errno));
        }
        done += size_t(n);
    }
    ::close(fd);  // flushed once for all new keys (AgentLoop: sync()), not one fsync each
    return true;
}

// The SEC 1 "EC PRIVATE KEY" PEM this file writes (OpenSSL's PEM reader, then
// its DER decoder); nullptr when the text holds no such key.
EC_KEY* parse_private(const std::string& pem) {
    Bio bio(BIO_new_mem_buf(pem.data(), int(pem.size())), &BIO_free);
    char *name = nullptr, *header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    EC_KEY* key = nullptr;
    if (bio && PEM_read_bio(bio.get(), &name, &header, &data, &len) == 1 && std::strcmp(name, PEM_STRING_ECPRIVATEKEY) == 0) {
        const unsigned char* p = data;
        key = d2i_ECPrivateKey(nullptr, &p, len);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (key && EC_GROUP_get_curve_name(EC_KEY_get0_group(key)) != NID_X9_62_prime256v1) {
        EC_KEY_free(key);
        key = nullptr;
    }
    return key;
}

EC_KEY* load_private(const std::string& path) {
    // Another process of the same node may be writing it this moment: a
    // short wait for a whole key before giving up.
    for (int attempt = 0;; ++attempt) {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        if (EC_KEY* key = parse_private(text.str())) return key;
        if (attempt >= 20) throw std::runtime_error("node key " + path + " holds no P-256 private key");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace

std::string NodeKey::hello_text(const std::string& node, const std::string& challenge) {
    return "exed-agent-hello-v1\nnode: " + node + "\nchallenge: " + challenge + "\n";
}

NodeKey::NodeKey(const std::string& state_dir, const std::string& node) : node_(node), key_(nullptr, &EC_KEY_free) {
    // The name becomes a file name: exed's listener rule, so nothing escapes keys/.
    if (node.empty() || node[0] == '.' || node[0] == '-' || node.find_first_of("/\\") != std::string::npos)
        throw std::runtime_error("node name '" + node + "' cannot name a key file");
    private_dir(state_dir);
    const std::string keys = state_dir + "/keys";
    private_dir(keys);
    const std::string path = keys + "/" + node + ".pem";
    if (access(path.c_str(), F_OK) == 0) {
        key_.reset(load_private(path));
    } else {
        EC_KEY* fresh = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
        if (!fresh || EC_KEY_generate_key(fresh) != 1) {
            EC_KEY_free(fresh);
            throw std::runtime_error("cannot make a P-256 key for " + node);
        }
        key_.reset(fresh);
        Bio out(BIO_new(BIO_s_mem()), &BIO_free);
        if (!out || PEM_write_bio_ECPrivateKey(out.get(), fresh, nullptr, nullptr, 0, nullptr, nullptr) != 1)
            throw std::runtime_error("cannot encode the key of " + node);
        if (create_private(path, bio_text(out.get()))) created_ = true;
        else key_.reset(load_private(path));  // another process made it first
    }
    Bio pub(BIO_new(BIO_s_mem()), &BIO_free);
    if (!pub || PEM_write_bio_EC_PUBKEY(pub.get(), key_.get()) != 1)
        throw std::runtime_error("cannot encode the public key of " + node);
    public_pem_ = bio_text(pub.get());
    // For the operator (not secret); written when the key is new or the file
    // is gone, not at every start (1,000 emulated nodes: 1,000 rewrites).
    const std::string pub_path = keys + "/" + node + ".pub.pem";
    if (created_ || access(pub_path.c_str(), F_OK) != 0) std::ofstream(pub_path) << public_pem_;
}

std::string NodeKey::sign_hello(const std::string& challenge) const {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(hello_text(node_, challenge));
    const auto& digest = sha.digest();
    std::string sig(size_t(ECDSA_size(key_.get())), '\0');
    unsigned int len = 0;
    if (ECDSA_sign(0, digest.data(), int(digest.size()), reinterpret_cast<unsigned char*>(sig.data()), &len,
                   key_.get()) != 1)
        throw std::runtime_error("cannot sign the hello of " + node_);
    std::ostringstream out;
    Poco::Base64Encoder enc(out);
    enc.rdbuf()->setLineLength(0);
    enc.write(sig.data(), std::streamsize(len));
    enc.close();
    return out.str();
}

}  // namespace exed::agent
