#include "agent/command_verifier.hpp"

#include "agent/service_command.hpp"
#include "operate/command_line.hpp"
#include "wire_commands.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Crypto/RSADigestEngine.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Parser.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Timestamp.h>

#include <cstdlib>
#include <ctime>
#include <sstream>

namespace exed::agent {

CommandVerifier::CommandVerifier(const AgentConfig& config, ReplayGuard& guard) : config_(config), guard_(guard) {
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

void CommandVerifier::allowed(Verdict& v, const std::string& argv_json) const {
    // Neither starts anything: cancel stops a run, attach resends what one sent.
    if (v.action == "cancel" || v.action == "attach") return;
    if (v.command == agent_wire::kFacter) return;
    if (v.command == agent_wire::kDeploy) {
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
    if (v.command == agent_wire::kService) {
        std::string why;
        if (args.size() != 2 || !service_argv(args[0], args[1], v.argv, why)) {
            v.ok = false;
            v.reason = why.empty() ? "service needs [name, action]" : why;
        }
        return;
    }
    if (v.command == agent_wire::kExec) {
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

Verdict CommandVerifier::verify(const Poco::JSON::Object::Ptr& msg, const std::string& node) {
    Verdict v;
    v.run_id = msg->optValue<std::string>("run_id", "");  // where a refusal goes, nothing more
    if (msg->has("fields") && !msg->has("payload")) {
        // The 1.x form signed "key: value" lines, which two field sets can
        // share (a value holding "\n"): refused, not kept beside.
        if (auto old = msg->getObject("fields")) v.run_id = old->optValue<std::string>("run_id", v.run_id);
        v.reason = "old command form: signed \"fields\" are no longer accepted (exed and agent must both sign payloads)";
        return v;
    }
    auto payload = msg->get("payload");
    auto signature = msg->get("signature");
    if (!payload.isString() || !signature.isString()) {
        v.reason = "a command needs a payload and a signature (strings)";
        return v;
    }
    const std::string text = payload.extract<std::string>();
    // Sign what is sent, parse what was verified: nothing of the payload
    // is looked at before its exact bytes are known to be exed's.
    if (!signature_ok(text, signature.extract<std::string>())) {
        v.reason = "bad signature";
        return v;
    }
    std::map<std::string, std::string> f;
    try {
        auto fields = Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
        if (!fields) throw std::runtime_error("not an object");
        for (auto& [k, val] : *fields) {
            if (!val.isString()) throw std::runtime_error("field " + k + " is not a string");
            f[k] = val.extract<std::string>();
        }
    } catch (const std::exception& e) {
        v.reason = std::string("payload is no JSON object of strings: ") + e.what();
        return v;
    }
    if (f["domain"] != kCommandDomain) {
        v.reason = "payload is not an exed agent command (domain '" + f["domain"].substr(0, 64) + "')";
        return v;
    }
    if (f["run_id"] != v.run_id) {
        v.reason = "run_id outside the payload differs from the signed one";
        v.run_id = f["run_id"];
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
    // Remembered twice the window: a command stamped 15 min ahead stays
    // refused until it is 15 min old.
    if (f["nonce"].empty() ||
        !guard_.remember_nonce(node, f["nonce"], int64_t(::time(nullptr)) + 2 * kWindowSeconds)) {
        v.reason = "nonce replayed";
        return v;
    }
    v.timeout_s = std::atoi(f["timeout"].c_str());
    v.ok = true;
    allowed(v, f["argv"]);
    return v;
}

}  // namespace exed::agent
