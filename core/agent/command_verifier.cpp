#include "agent/command_verifier.hpp"

#include "agent/service_command.hpp"
#include "operate/command_line.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Crypto/RSADigestEngine.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Parser.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Timestamp.h>

#include <cstdlib>
#include <sstream>

namespace exed::agent {

std::string canonical_text(const std::map<std::string, std::string>& fields) {
    std::string out;
    for (auto& [k, v] : fields) out += (out.empty() ? "" : "\n") + k + ": " + v;
    return out;
}

CommandVerifier::CommandVerifier(const AgentConfig& config) : config_(config) {
    try {
        key_ = std::make_unique<Poco::Crypto::RSAKey>(config.public_key, "", "");
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("[agent] public_key " + config.public_key + ": " + e.displayText());
    }
}

bool CommandVerifier::signature_ok(const std::string& text, const std::string& signature) const {
    std::vector<unsigned char> sig;
    try {
        std::istringstream in(signature);
        Poco::Base64Decoder decoder(in);
        sig.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
    } catch (const Poco::Exception&) {
        return false;
    }
    if (sig.empty()) return false;
    Poco::Crypto::RSADigestEngine engine(*key_, "SHA256");
    engine.update(text);
    return engine.verify(sig);
}

bool CommandVerifier::nonce_fresh(const std::string& node, const std::string& nonce) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(nonce_mutex_);
    for (auto it = nonces_.begin(); it != nonces_.end();)  // forget what left the window
        it = it->second < now ? nonces_.erase(it) : std::next(it);
    // Twice the window: a command stamped 15 min ahead stays refused until it is 15 min old.
    return nonces_.emplace(node + "/" + nonce, now + std::chrono::seconds(2 * kWindowSeconds)).second;
}

void CommandVerifier::allowed(Verdict& v, const std::string& argv_json) const {
    // Neither starts anything: cancel stops a run, attach resends what one sent.
    if (v.action == "cancel" || v.action == "attach") return;
    if (v.command == "facter") return;
    if (v.command == "deploy") {
        v.ok = false;
        v.reason = "deploy is unsupported by the exed agent";
        return;
    }
    std::vector<std::string> args;
    if (!argv_json.empty()) {
        try {
            auto arr = Poco::JSON::Parser().parse(argv_json).extract<Poco::JSON::Array::Ptr>();
            for (size_t i = 0; i < arr->size(); ++i) args.push_back(arr->getElement<std::string>(i));
        } catch (const std::exception&) {
            v.ok = false;
            v.reason = "argv is not a JSON array of strings";
            return;
        }
    }
    if (v.command == "service") {
        std::string why;
        if (args.size() != 2 || !service_argv(args[0], args[1], v.argv, why)) {
            v.ok = false;
            v.reason = why.empty() ? "service needs [name, action]" : why;
        }
        return;
    }
    if (v.command == "exec") {
        if (args.empty()) {
            v.ok = false;
            v.reason = "exec needs a non-empty argv";
        } else if (config_.allow_exec) {
            v.argv = args;
        } else if (args.size() == 1 && config_.commands.count(args[0])) {
            v.command = args[0];  // `execute cmd=<name>` runs the named command
        } else {
            v.ok = false;
            v.reason = "command not allowed: '" + args[0] + "' is no named command and allow_exec is off";
            return;
        }
        if (v.argv.size()) return;
    }
    auto named = config_.commands.find(v.command);
    if (named == config_.commands.end()) {
        v.ok = false;
        v.reason = "command not allowed: '" + v.command + "'";
        return;
    }
    try {  // exed's own rule for command lines (docs/api.md, "One argv rule")
        v.argv = operate::split_command_line(named->second);
    } catch (const std::invalid_argument& e) {
        v.ok = false;
        v.reason = "named command '" + v.command + "' cannot be split: " + e.what();
        return;
    }
    if (v.argv.empty()) {
        v.ok = false;
        v.reason = "named command '" + v.command + "' is empty";
    }
}

Verdict CommandVerifier::verify(const Poco::JSON::Object::Ptr& fields, const std::string& signature,
                                const std::string& node) {
    Verdict v;
    std::map<std::string, std::string> f;
    if (!fields) {
        v.reason = "no fields";
        return v;
    }
    for (auto& [k, val] : *fields) {
        if (!val.isString()) {
            v.reason = "field " + k + " is not a string";
            return v;
        }
        f[k] = val.extract<std::string>();
    }
    const std::string text = canonical_text(f);  // before any f[...] adds a key
    v.run_id = f["run_id"];
    if (!signature_ok(text, signature)) {
        v.reason = "bad signature";
        return v;
    }
    v.action = f["action"];
    v.command = f["command"];
    if (v.action != "start" && v.action != "cancel" && v.action != "attach") {
        v.reason = "unknown action '" + v.action + "'";
        return v;
    }
    if (f["node"] != node) {
        v.reason = "command is for node '" + f["node"] + "', this is '" + node + "'";
        return v;
    }
    Poco::DateTime when;
    int tz = 0;
    if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, f["time"], when, tz) &&
        !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, f["time"], when, tz)) {
        v.reason = "time '" + f["time"] + "' is not RFC 3339";
        return v;
    }
    when.makeUTC(tz);
    long skew = long((Poco::Timestamp() - when.timestamp()) / Poco::Timestamp::resolution());
    if (std::labs(skew) > kWindowSeconds) {
        v.reason = "time is " + std::to_string(skew) + " s off (more than 15 min)";
        return v;
    }
    if (f["nonce"].empty() || !nonce_fresh(node, f["nonce"])) {
        v.reason = "nonce replayed";
        return v;
    }
    v.timeout_s = std::atoi(f["timeout"].c_str());
    v.ok = true;
    allowed(v, f["argv"]);
    return v;
}

}  // namespace exed::agent
