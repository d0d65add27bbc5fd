// The node-side agent's configuration (`exed agent -c agent.conf`, docs/agent.md).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace exed::agent {

struct AgentConfig {
    std::string server_host;   // from [agent] server = http(s)://host:port
    int server_port = 16809;
    bool tls = false;          // server = https://...: WebSocket over TLS
    std::string ca_file;       // CA that signed exed's listener certificate ("" = the system CAs)
    std::string cert_file;     // client certificate, for an exed whose [agent] tls_ca asks for one
    std::string key_file;      // its private key
    std::string name;          // node name; default: the host name
    std::string public_key;    // exed's public key: only commands it signed run
    std::string token;         // read from token_file
    bool allow_exec = false;   // may `execute` run any argv (named commands always may)
    int instances = 1;         // >1: emulated nodes <name>-1 ... <name>-N
    std::map<std::string, std::string> commands;  // [agent.commands] name = command line
    double heartbeat_s = 5;    // heartbeat interval
    double kill_grace_s = 2;   // TERM -> KILL on cancel/timeout
    size_t buffer_bytes = 1 << 20;  // output kept per node while disconnected
    size_t max_frame = 16 << 20;    // a frame from exed announcing more drops the connection
    double frame_timeout_s = 10;    // a frame from exed begun must be whole within this
    // What must survive a restart: the node keys (keys/<node>.pem) and the
    // replay guard (replay/); made 0700. A relative path is relative to the
    // config file's directory. One agent per state_dir (replay/lock).
    std::string state_dir = "/var/lib/exed-agent";

    // The node names this process serves (one, or <name>-1 ... <name>-N).
    std::vector<std::string> node_names() const;
};

// Reads and checks the INI file; throws std::runtime_error with a clear message.
AgentConfig load_agent_config(const std::string& path);

}  // namespace exed::agent
