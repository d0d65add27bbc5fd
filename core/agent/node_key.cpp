#include "agent/node_key.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/ECDSADigestEngine.h>
#include <Poco/File.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace exed::agent {

namespace {

void private_dir(const std::string& dir) {
    Poco::File(dir).createDirectories();
    ::chmod(dir.c_str(), 0700);
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
    ::fsync(fd);
    ::close(fd);
    return true;
}

std::unique_ptr<Poco::Crypto::ECKey> load_private(const std::string& path) {
    // Another process of the same node may be writing it this moment: a
    // short wait for a whole key before giving up.
    for (int attempt = 0;; ++attempt) {
        try {
            std::ifstream in(path);
            std::stringstream text;
            text << in.rdbuf();
            std::istringstream priv(text.str());
            return std::make_unique<Poco::Crypto::ECKey>(nullptr, &priv);
        } catch (const Poco::Exception& e) {
            if (attempt >= 20) throw std::runtime_error("node key " + path + " is unreadable: " + e.displayText());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace

std::string NodeKey::hello_text(const std::string& node, const std::string& challenge) {
    return "exed-agent-hello-v1\nnode: " + node + "\nchallenge: " + challenge + "\n";
}

NodeKey::NodeKey(const std::string& state_dir, const std::string& node) : node_(node) {
    // The name becomes a file name: exed's listener rule, so nothing escapes keys/.
    if (node.empty() || node[0] == '.' || node[0] == '-' || node.find_first_of("/\\") != std::string::npos)
        throw std::runtime_error("node name '" + node + "' cannot name a key file");
    private_dir(state_dir);
    const std::string keys = state_dir + "/keys";
    private_dir(keys);
    const std::string path = keys + "/" + node + ".pem";
    try {
        auto fresh = std::make_unique<Poco::Crypto::ECKey>("prime256v1");
        std::ostringstream priv;
        fresh->save(nullptr, &priv);
        if (create_private(path, priv.str())) key_ = std::move(fresh);
        else key_ = load_private(path);
        std::ostringstream pub;
        key_->save(&pub, nullptr);
        public_pem_ = pub.str();
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("node key " + path + ": " + e.displayText());
    }
    std::ofstream(keys + "/" + node + ".pub.pem") << public_pem_;  // for the operator; not secret
}

std::string NodeKey::sign_hello(const std::string& challenge) const {
    Poco::Crypto::ECDSADigestEngine engine(*key_, "SHA256");
    engine.update(hello_text(node_, challenge));
    const auto& sig = engine.signature();
    std::ostringstream out;
    Poco::Base64Encoder enc(out);
    enc.rdbuf()->setLineLength(0);
    enc.write(reinterpret_cast<const char*>(sig.data()), std::streamsize(sig.size()));
    enc.close();
    return out.str();
}

}  // namespace exed::agent
