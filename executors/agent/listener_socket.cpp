#include "listener_socket.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>

namespace exed::agent_executor {

namespace {

Poco::Net::Context::Ptr server_context(const AgentSettings& s) {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Params p;
    p.certificateFile = s.tls_cert;
    p.privateKeyFile = s.tls_key;
    p.caLocation = s.tls_ca;
    p.loadDefaultCAs = false;
    // With tls_ca an agent without a certificate from it fails the handshake.
    p.verificationMode = s.tls_ca.empty() ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_STRICT;
    p.verificationDepth = 9;
    p.cipherList = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES";
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p);
    ctx->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                          Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    ctx->preferServerCiphers();
    // A client certificate names an agent, not the address it dials from:
    // only its chain to tls_ca is checked (the token names the node).
    ctx->enableExtendedCertificateVerification(false);
    return ctx;
}

}  // namespace

Poco::Net::ServerSocket agent_listen_socket(const AgentSettings& s, int backlog) {
    Poco::Net::SocketAddress addr(s.listen, Poco::UInt16(s.listen_port));
    if (s.tls_cert.empty()) {
        Poco::Net::ServerSocket socket;
        socket.bind(addr, true, false);
        socket.listen(backlog);
        return socket;
    }
    Poco::Net::SecureServerSocket socket(server_context(s));
    socket.bind(addr, true, false);
    socket.listen(backlog);
    return socket;
}

}  // namespace exed::agent_executor
