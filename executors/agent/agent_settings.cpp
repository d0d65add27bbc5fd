#include "agent_settings.hpp"

#include <exed/sdk.hpp>

#include <Poco/JSON/Parser.h>
#include <Poco/NumberParser.h>
#include <Poco/String.h>

#include <fstream>

namespace exed::agent_executor {

namespace {

std::string opt(const Poco::JSON::Object::Ptr& cfg, const std::string& key, const std::string& dflt) {
    if (!cfg->has(key) || cfg->get(key).isEmpty()) return dflt;
    return Poco::trim(cfg->get(key).toString());
}

double number(const Poco::JSON::Object::Ptr& cfg, const std::string& key, double dflt, double min) {
    std::string v = opt(cfg, key, "");
    if (v.empty()) return dflt;
    double out = 0;
    if (!Poco::NumberParser::tryParseFloat(v, out) || out < min)
        throw Error("[agent] " + key + " must be a number >= " + std::to_string(min) + ", got '" + v + "'");
    return out;
}

}  // namespace

AgentSettings parse_settings(const std::string& config_json) {
    Poco::JSON::Object::Ptr cfg;
    try {
        cfg = Poco::JSON::Parser().parse(config_json).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
        throw Error("[agent] config is no JSON object");
    }
    AgentSettings s;
    s.listen = opt(cfg, "listen", s.listen);
    s.listen_port = int(number(cfg, "listen_port", s.listen_port, 0));
    if (s.listen_port > 65535) throw Error("[agent] listen_port must be <= 65535");
    s.signing_key = opt(cfg, "signing_key", s.signing_key);
    s.heartbeat_timeout_s = number(cfg, "heartbeat_timeout", s.heartbeat_timeout_s, 0.5);
    s.kill_grace_s = int(number(cfg, "kill_grace", s.kill_grace_s, 1));
    // Poco's WebSocket takes an int payload limit.
    double max_frame = number(cfg, "max_frame", double(s.max_frame), 1024);
    if (max_frame > double(1 << 30)) throw Error("[agent] max_frame must be <= 1073741824 (1 GiB)");
    s.max_frame = size_t(max_frame);
    s.handshake_timeout_s = number(cfg, "handshake_timeout", s.handshake_timeout_s, 0.1);
    s.frame_timeout_s = number(cfg, "frame_timeout", s.frame_timeout_s, 0.1);
    s.tls_cert = opt(cfg, "tls_cert", "");
    s.tls_key = opt(cfg, "tls_key", s.tls_cert);
    s.tls_ca = opt(cfg, "tls_ca", "");
    if (s.tls_cert.empty() && !s.tls_ca.empty()) throw Error("[agent] tls_ca needs tls_cert (a TLS listener)");
    std::string token_file = opt(cfg, "token_file", "");
    if (token_file.empty()) return s;  // not configured: the plugin stays idle
    s.configured = true;
    std::ifstream in(token_file);
    if (!in) throw Error("[agent] token_file " + token_file + " cannot be read");
    std::getline(in, s.token);
    s.token = Poco::trim(s.token);
    if (s.token.size() < 16) throw Error("[agent] token_file " + token_file + " holds no token of >= 16 characters");
    return s;
}

}  // namespace exed::agent_executor
