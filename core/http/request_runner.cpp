#include "http/request_runner.hpp"

#include "json.hpp"
#include "operate/numbers.hpp"

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

// HTTPSession keeps what it read past a request in its own buffer; while
// that holds bytes, the next request must be served here (the kernel has
// nothing more for the Acceptor to see).
class Session : public Poco::Net::HTTPServerSession {
public:
    using HTTPServerSession::HTTPServerSession;
    bool has_buffered() const { return buffered() > 0; }
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

// Poco reads Content-Length leniently ("1,000", "+5", "-1"): the header
// must be plain decimal digits, or the body's end is not what it says.
bool content_length_ok(const Poco::Net::HTTPServerRequest& request) {
    int64_t n = 0;
    return !request.has("Content-Length") ||
           operate::text_integer(request.get("Content-Length"), 0, INT64_MAX, n);
}

constexpr const char* kBadLength = "Content-Length must be a decimal integer from 0 to 9223372036854775807";

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
                send_error(session, Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED, "not implemented");
                return Served::close;
            }
            if (!content_length_ok(request)) {
                send_error(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, kBadLength);
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
            if (!session.detached())
                send_error(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "malformed HTTP request");
            return Served::close;
        } catch (const Poco::SyntaxException&) {  // Poco parses Content-Length while reading the head
            if (!session.detached()) send_error(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, kBadLength);
            return Served::close;
        }
        if (session.detached()) return Served::detached;
        if (!session.getKeepAlive()) return Served::close;
        if (!session.has_buffered()) return Served::keep_alive;
    }
}

}  // namespace exed::http
