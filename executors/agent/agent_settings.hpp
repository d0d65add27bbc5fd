// The exed side's [agent] section (docs/agent.md).
#pragma once

#include <cstddef>
#include <string>

namespace exed::agent_executor {

struct AgentSettings {
    // False without a token_file: exed loads every plugin in its plugin
    // dirs, and an exed using another executor must not open the agent port.
    bool configured = false;
    std::string listen = "127.0.0.1";
    int listen_port = 16809;
    std::string signing_key = "run/agent-signing.pem";  // created 0600 with <path>.pub if missing
    std::string token;                                  // read from token_file
    std::string tls_cert;  // set: the listener speaks TLS (agents use server = https://...)
    std::string tls_key;   // default: tls_cert (a PEM holding both)
    std::string tls_ca;    // set: agents must present a client certificate signed by it
    double heartbeat_timeout_s = 15;  // a silent agent is dropped after this
    int kill_grace_s = 5;             // after a cancel, how long to wait for the agents' end
    // Bounds on what one connection may cost (docs/agent.md, Limits).
    size_t max_frame = 16 << 20;        // a frame announcing more drops its connection
    double handshake_timeout_s = 5;     // TCP accept -> 101 (TLS handshake included)
    double frame_timeout_s = 10;        // a frame begun must be whole within this
};

// Throws exed::Error (the plugin is refused) on a bad section.
AgentSettings parse_settings(const std::string& config_json);

}  // namespace exed::agent_executor
