#include "http/request_runner.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timestamp.h>

#include <memory>

namespace exed::http {

namespace {

// HTTPSession keeps what it read past a request in its own buffer; while
// that holds bytes, the next request must be served here (the kernel has
// nothing more for the Acceptor to see).
class Session : public Poco::Net::HTTPServerSession {
public:
    using HTTPServerSession::HTTPServerSession;
    bool has_buffered() const { return buffered() > 0; }
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

Served serve_requests(Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                      Poco::Net::HTTPRequestHandlerFactory& factory) {
    Session session(socket, params);
    for (;;) {
        try {
            Poco::Net::HTTPServerResponseImpl response(session);
            Poco::Net::HTTPServerRequestImpl request(response, session, params);
            response.setDate(Poco::Timestamp());
            response.setVersion(request.getVersion());
            response.setKeepAlive(params->getKeepAlive() && request.getKeepAlive() && session.canKeepAlive());
            std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(factory.createRequestHandler(request));
            if (!handler) {
                send_error(session, Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED);
                return Served::close;
            }
            if (request.getExpectContinue() && response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK)
                response.sendContinue();
            handler->handleRequest(request, response);
            if (session.detached()) return Served::detached;
            session.setKeepAlive(params->getKeepAlive() && response.getKeepAlive() && session.canKeepAlive());
        } catch (const Poco::Net::NoMessageException&) {
            return Served::close;  // the client closed between requests
        } catch (const Poco::Net::MessageException&) {
            if (!session.detached()) send_error(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
            return Served::close;
        }
        if (session.detached()) return Served::detached;
        if (!session.getKeepAlive()) return Served::close;
        if (!session.has_buffered()) return Served::keep_alive;
    }
}

}  // namespace exed::http
