#include "http/request_runner.hpp"

#include "http/buffered_socket.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timestamp.h>

#include <memory>

namespace exed::http {

namespace {

class Session : public Poco::Net::HTTPServerSession {
public:
    using HTTPServerSession::HTTPServerSession;
    bool detached() { return !socket().impl()->initialized(); }
};

void send_error(Session& session, Poco::Net::HTTPResponse::HTTPStatus status) {
    Poco::Net::HTTPServerResponseImpl response(session);
    response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
    response.setStatusAndReason(status);
    response.setKeepAlive(false);
    response.send();
    session.setKeepAlive(false);
}

}  // namespace

Served serve_request(Poco::Net::StreamSocket& socket, std::string request,
                     Poco::Net::HTTPServerParams::Ptr params, Poco::Net::HTTPRequestHandlerFactory& factory) {
    auto* impl = new BufferedSocketImpl(socket, std::move(request));
    Poco::Net::StreamSocket buffered(impl);
    Session session(buffered, params);
    // Runs before the session's destructor closes its socket (declared later).
    struct KeepOpen {
        Session& session;
        BufferedSocketImpl* impl;
        ~KeepOpen() {
            if (!session.detached()) impl->keep_real_open();
        }
    } keep_open{session, impl};
    try {
        Poco::Net::HTTPServerResponseImpl response(session);
        Poco::Net::HTTPServerRequestImpl request(response, session, params);
        response.setDate(Poco::Timestamp());
        response.setVersion(request.getVersion());
        // Not session.canKeepAlive(): it is false for max_keep_alive_requests
        // = 0 ("unlimited" in Poco's own words), so every answer said
        // "Connection: Close"; one session serves one request here anyway.
        response.setKeepAlive(params->getKeepAlive() && request.getKeepAlive());
        std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(factory.createRequestHandler(request));
        if (!handler) {
            send_error(session, Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED);
            return Served::close;
        }
        // "100 Continue" was the Acceptor's to send (request_gate.cpp).
        handler->handleRequest(request, response);
        if (session.detached()) return Served::detached;
        session.setKeepAlive(params->getKeepAlive() && response.getKeepAlive());
    } catch (const Poco::Net::NoMessageException&) {
        return Served::close;
    } catch (const Poco::Net::MessageException&) {
        if (!session.detached()) send_error(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
        return Served::close;
    }
    if (session.detached()) return Served::detached;
    return session.getKeepAlive() ? Served::keep_alive : Served::close;
}

}  // namespace exed::http
