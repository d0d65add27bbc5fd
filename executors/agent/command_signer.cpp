#include "command_signer.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/RSADigestEngine.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/Path.h>
#include <Poco/Timestamp.h>
#include <Poco/UUIDGenerator.h>

#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace exed::agent_executor {

namespace {

// The agent's CommandVerifier checks the same tag (plugins share no code with core/).
constexpr const char* kCommandDomain = "exed-agent-command/2";

// The private key file is created 0600 before anything is written to it.
void create_key(const std::string& path) {
    Poco::File(Poco::Path(path).parent()).createDirectories();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) throw Error("[agent] signing_key " + path + " cannot be created");
    ::close(fd);
    Poco::Crypto::RSAKey key(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE);
    std::ofstream priv(path, std::ios::trunc);
    std::ofstream pub(path + ".pub", std::ios::trunc);
    key.save(&pub, &priv);
    if (!priv || !pub) throw Error("[agent] signing_key " + path + " could not be written");
}

}  // namespace

CommandSigner::CommandSigner(const std::string& key_path, const exed::Host& host) {
    try {
        if (!Poco::File(key_path).exists()) {
            create_key(key_path);
            host.log(EXED_LOG_INFO, "created agent signing key " + key_path + " (0600) and " + key_path +
                                        ".pub: give the .pub to every agent");
        }
        key_ = std::make_unique<Poco::Crypto::RSAKey>("", key_path, "");
    } catch (const Poco::Exception& e) {
        throw Error("[agent] signing_key " + key_path + ": " + e.displayText());
    }
}

std::string CommandSigner::signature(const std::string& bytes) const {
    Poco::Crypto::RSADigestEngine engine(*key_, "SHA256");
    engine.update(bytes);
    const auto& sig = engine.signature();
    std::ostringstream out;
    Poco::Base64Encoder b64(out);
    b64.rdbuf()->setLineLength(0);
    b64.write(reinterpret_cast<const char*>(sig.data()), std::streamsize(sig.size()));
    b64.close();
    return out.str();
}

std::string CommandSigner::signed_command(const std::map<std::string, std::string>& fields) const {
    if (fields.count("domain")) throw Error("a command field may not be named 'domain'");
    Poco::JSON::Object payload;
    payload.set("domain", std::string(kCommandDomain));
    for (auto& [k, v] : fields) payload.set(k, v);
    std::ostringstream text;
    payload.stringify(text);  // compact: these bytes are what is signed and sent
    Poco::JSON::Object msg;
    msg.set("type", std::string("command"));
    auto run_id = fields.find("run_id");
    msg.set("run_id", run_id == fields.end() ? std::string() : run_id->second);
    msg.set("payload", text.str());
    msg.set("signature", signature(text.str()));
    std::ostringstream s;
    msg.stringify(s);
    return s.str();
}

void stamp(std::map<std::string, std::string>& fields) {
    fields["time"] = Poco::DateTimeFormatter::format(Poco::Timestamp(), Poco::DateTimeFormat::ISO8601_FORMAT);
    fields["nonce"] = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
}

}  // namespace exed::agent_executor
