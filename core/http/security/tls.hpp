// The API's listening socket: plain TCP, or TLS (Poco NetSSL / OpenSSL)
// when [api] tls_cert is set. TLS 1.2 and 1.3 only, forward-secret AEAD
// ciphers for 1.2; [api] tls_ca + tls_client_auth = optional|required ask
// for client certificates (mTLS). A plain-HTTP client on a TLS port fails
// the handshake and is disconnected without an answer.
#pragma once

#include "http/security/settings.hpp"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

namespace exed::http::security {

// Throws Poco::Exception when the socket cannot be bound or the
// certificate/key cannot be loaded.
Poco::Net::ServerSocket listen_socket(const SecuritySettings& s, const Poco::Net::SocketAddress& addr, int backlog);

}  // namespace exed::http::security
