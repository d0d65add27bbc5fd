#include "agent/agent_config.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Environment.h>
#include <Poco/Path.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <fstream>
#include <stdexcept>

namespace exed::agent {

std::vector<std::string> AgentConfig::node_names() const {
    if (instances <= 1) return {name};
    std::vector<std::string> out;
    out.reserve(size_t(instances));
    for (int i = 1; i <= instances; ++i) out.push_back(name + "-" + std::to_string(i));
    return out;
}

namespace {

std::string read_first_line(const std::string& path, const std::string& what) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(what + " " + path + " cannot be read");
    std::string line;
    std::getline(in, line);
    return Poco::trim(line);
}

}  // namespace

AgentConfig load_agent_config(const std::string& path) {
    Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini;
    try {
        ini = new Poco::Util::IniFileConfiguration(path);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("cannot read " + path + ": " + e.displayText());
    }
    AgentConfig c;
    try {
        Poco::URI server(ini->getString("agent.server"));
        if ((server.getScheme() != "http" && server.getScheme() != "https") || server.getHost().empty())
            throw std::runtime_error("[agent] server must be http://host:port or https://host:port");
        c.server_host = server.getHost();
        c.server_port = server.getPort();
        c.tls = server.getScheme() == "https";
        c.ca_file = ini->getString("agent.ca_file", "");
        c.cert_file = ini->getString("agent.cert_file", "");
        c.key_file = ini->getString("agent.key_file", c.cert_file.empty() ? "" : c.cert_file);
        c.name = ini->getString("agent.name", Poco::Environment::nodeName());
        c.public_key = ini->getString("agent.public_key");
        c.token = read_first_line(ini->getString("agent.token_file"), "[agent] token_file");
        c.allow_exec = ini->getBool("agent.allow_exec", false);
        c.instances = ini->getInt("agent.instances", 1);
        c.heartbeat_s = ini->getDouble("agent.heartbeat", 5);
        c.kill_grace_s = ini->getDouble("agent.kill_grace", 2);
        c.buffer_bytes = size_t(ini->getInt("agent.buffer_bytes", 1 << 20));
        int max_frame = ini->getInt("agent.max_frame", 16 << 20);
        // Poco's WebSocket takes an int payload limit.
        if (max_frame < 1024 || max_frame > (1 << 30))
            throw std::runtime_error("[agent] max_frame must be 1024..1073741824 bytes");
        c.max_frame = size_t(max_frame);
        c.frame_timeout_s = ini->getDouble("agent.frame_timeout", 10);
        // Relative to the config file's directory, not to wherever the agent was started.
        c.state_dir = Poco::Path(Poco::Path(path).absolute().parent())
                          .resolve(Poco::Path(ini->getString("agent.state_dir", "/var/lib/exed-agent")))
                          .toString();
        Poco::Util::AbstractConfiguration::Keys keys;
        ini->keys("agent.commands", keys);
        for (auto& k : keys) c.commands[k] = ini->getString("agent.commands." + k);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("agent config " + path + ": " + e.displayText());
    }
    if (c.token.empty()) throw std::runtime_error("[agent] token_file holds no token");
    if (c.instances < 1 || c.instances > 100000) throw std::runtime_error("[agent] instances must be 1..100000");
    if (!c.tls && !(c.ca_file.empty() && c.cert_file.empty()))
        throw std::runtime_error("[agent] ca_file/cert_file need server = https://...");
    if (c.heartbeat_s <= 0) throw std::runtime_error("[agent] heartbeat must be > 0");
    if (c.frame_timeout_s <= 0) throw std::runtime_error("[agent] frame_timeout must be > 0");
    return c;
}

}  // namespace exed::agent
