#include "http/security/tls.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>

#include <mutex>

namespace exed::http::security {

namespace {

Poco::Net::Context::VerificationMode verification(const std::string& client_auth) {
    if (client_auth == "required") return Poco::Net::Context::VERIFY_STRICT;  // no certificate: handshake fails
    if (client_auth == "optional") return Poco::Net::Context::VERIFY_RELAXED;  // checked when one is sent
    return Poco::Net::Context::VERIFY_NONE;
}

}  // namespace

Poco::Net::ServerSocket listen_socket(const SecuritySettings& s, const Poco::Net::SocketAddress& addr, int backlog) {
    if (!s.tls()) {
        Poco::Net::ServerSocket socket;
        // SO_REUSEADDR only: Poco's two-argument bind also sets SO_REUSEPORT,
        // and then a second exed on the same port starts silently and the
        // kernel splits the clients between the two.
        socket.bind(addr, true, false);
        socket.listen(backlog);
        return socket;
    }
    static std::once_flag ssl_init;
    std::call_once(ssl_init, [] { Poco::Net::initializeSSL(); });
    Poco::Net::Context::Params p;
    p.privateKeyFile = s.tls_key;
    p.certificateFile = s.tls_cert;
    p.caLocation = s.tls_ca;
    p.verificationMode = verification(s.tls_client_auth);
    p.verificationDepth = 9;
    p.loadDefaultCAs = false;
    p.cipherList = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES";
    Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p);
    ctx->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                          Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    ctx->preferServerCiphers();
    // Poco's extended check matches a peer certificate's names against the
    // peer's host name: right for servers, meaningless for client
    // certificates (they name a client, not an address), so only the chain
    // to tls_ca is checked.
    ctx->enableExtendedCertificateVerification(false);
    ctx->enableSessionCache(true, "exed");
    Poco::Net::SecureServerSocket socket(ctx);
    socket.bind(addr, true, false);  // no SO_REUSEPORT, as above
    socket.listen(backlog);
    return socket;
}

}  // namespace exed::http::security
