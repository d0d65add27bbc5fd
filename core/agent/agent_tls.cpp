#include "agent/agent_tls.hpp"

#include <Poco/Net/SSLManager.h>

#include <stdexcept>

namespace exed::agent {

Poco::Net::Context::Ptr client_tls_context(const AgentConfig& config) {
    if (!config.tls) return nullptr;
    Poco::Net::initializeSSL();
    Poco::Net::Context::Params p;
    p.caLocation = config.ca_file;
    p.loadDefaultCAs = config.ca_file.empty();
    // STRICT: no certificate, a chain not ending at ca_file, or a name that
    // is not the server's host fails the handshake; the agent then never
    // sends its token.
    p.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    p.verificationDepth = 9;
    p.certificateFile = config.cert_file;
    p.privateKeyFile = config.key_file;
    p.cipherList = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES";
    try {
        Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
        ctx->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                              Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
        return ctx;
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("[agent] TLS (ca_file/cert_file/key_file): " + e.displayText());
    }
}

}  // namespace exed::agent
