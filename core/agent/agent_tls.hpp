// The agent's TLS client side (`server = https://...`): one Poco NetSSL
// context for every node link of the process, checking exed's listener
// certificate against `ca_file` (or the system CAs) and its name against
// the server's host; optionally a client certificate for exed's tls_ca.
#pragma once

#include "agent/agent_config.hpp"

#include <Poco/Net/Context.h>

namespace exed::agent {

// nullptr for a plain http:// server. Throws std::runtime_error when the
// CA file or client certificate cannot be loaded.
Poco::Net::Context::Ptr client_tls_context(const AgentConfig& config);

}  // namespace exed::agent
