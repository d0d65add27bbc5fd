// The agent listener's socket: plain TCP, or TLS (Poco NetSSL) when
// [agent] tls_cert is set, with client certificates required when tls_ca
// is. A plain-ws agent on a TLS port fails the handshake and is never
// listed. Bound with SO_REUSEADDR only: Poco's two-argument bind also sets
// SO_REUSEPORT, and a second listener on a taken port must fail, not share.
#pragma once

#include "agent_settings.hpp"

#include <Poco/Net/ServerSocket.h>

namespace exed::agent_executor {

// Throws Poco::Exception when the port is taken or the certificate, key or
// CA cannot be loaded.
Poco::Net::ServerSocket agent_listen_socket(const AgentSettings& settings, int backlog);

}  // namespace exed::agent_executor
