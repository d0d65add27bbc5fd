#include "http/request_runner.hpp"

#include "http/buffered_socket.hpp"
#include "json.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>

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

// An answer before any handler (the request could not be read): JSON
// {"message"} as every other error, then the connection closes.
void send_error(Session& session, Poco::Net::HTTPResponse::HTTPStatus status, const std::string& message) {
    Poco::Net::HTTPServerResponseImpl response(session);
    response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
    response.setStatusAndReason(status);
    response.setKeepAlive(false);
    Poco::JSON::Object body;
    body.set("message", message);
    std::string text = json_string(body);
    response.setContentType("application/json");
    response.setContentLength64(Poco::Int64(text.size()));
    response.send() << text;
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
            send_error(session, Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED, "not implemented");
            return Served::close;
        }
        // "100 Continue" was the Acceptor's to send (request_gate.cpp).
        handler->handleRequest(request, response);
        if (session.detached()) return Served::detached;
        session.setKeepAlive(params->getKeepAlive() && response.getKeepAlive());
    } catch (const Poco::Net::NoMessageException&) {
        return Served::close;
    } catch (const Poco::Net::MessageException&) {
        if (!session.detached())
            send_error(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "malformed HTTP request");
        return Served::close;
    } catch (const Poco::SyntaxException&) {  // Poco parses Content-Length while reading the head
        if (!session.detached())
            send_error(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "malformed Content-Length");
        return Served::close;
    }
    if (session.detached()) return Served::detached;
    return session.getKeepAlive() ? Served::keep_alive : Served::close;
}

}  // namespace exed::http
