#include "http/request_gate.hpp"

#include "operate/numbers.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/String.h>

#include <sstream>

namespace exed::http {

namespace {

Gate refused(int status, std::string message) {
    Gate g;
    g.kind = Gate::refuse;
    g.header_done = true;
    g.status = status;
    g.message = std::move(message);
    return g;
}

// Where the header ends (past its blank line), or npos. Bare LF line ends
// are accepted as Poco's parser accepts them.
size_t header_end(const std::string& buf) {
    size_t crlf = buf.find("\r\n\r\n");
    size_t lf = buf.find("\n\n");
    size_t end = std::string::npos;
    if (crlf != std::string::npos) end = crlf + 4;
    if (lf != std::string::npos && (end == std::string::npos || lf + 2 < end)) end = lf + 2;
    return end;
}

}  // namespace

Gate inspect_request(const std::string& buf, const GateLimits& limits) {
    size_t end = header_end(buf);
    if (end == std::string::npos || end > limits.max_header + 4) {
        if (buf.size() > limits.max_header)
            return refused(431, "request header larger than " + std::to_string(limits.max_header) + " bytes");
        return Gate{};
    }
    Poco::Net::HTTPRequest head;
    try {
        std::istringstream in(buf.substr(0, end));
        head.read(in);
        // Where Poco's parser (the worker's too) ends the header frames the
        // body, never our search: they differ on odd line ends ("\n\r\r\n").
        // A parser that ran out of bytes saw no end of its own.
        std::streampos pos = in.tellg();
        if (!in || pos < 0) return refused(400, "malformed request header: no end of header");
        end = size_t(pos);
    } catch (const Poco::Exception& e) {
        return refused(400, "malformed request header: " + e.message());
    }
    // A body is framed by Content-Length only: a chunked body could only be
    // bounded by decoding it here, and every JSON client sends its length.
    // RFC 9112 6.3: a server may refuse a body without a length with 411.
    if (head.has(Poco::Net::HTTPMessage::TRANSFER_ENCODING))
        return refused(411, "a request body needs a Content-Length (Transfer-Encoding is not accepted)");
    // Two different lengths: which one frames the body is exactly what
    // request smuggling plays on.
    std::string length_text;
    for (const auto& [name, value] : head) {
        if (Poco::icompare(name, Poco::Net::HTTPMessage::CONTENT_LENGTH) != 0) continue;
        if (!length_text.empty() && value != length_text)
            return refused(400, "conflicting Content-Length headers");
        length_text = value;
    }
    int64_t length = 0;
    if (head.hasContentLength()) {
        // The faces' one rule for integers in text (operate/numbers.hpp):
        // Poco would read "1,000" as 1000 and "+5" as 5.
        if (!operate::text_integer(length_text, 0, INT64_MAX, length))
            return refused(400, "Content-Length must be a decimal integer from 0 to 9223372036854775807, not '" +
                                    length_text + "'");
        if (uint64_t(length) > limits.max_body)
            return refused(413, "request body larger than " + std::to_string(limits.max_body) + " bytes");
    }
    Gate g;
    g.header_done = true;
    // A POST (PUT, PATCH...) without a length has no body (RFC 9112 6.3):
    // Poco reads such a body to the end of input, which the worker's
    // socket puts right after this header (buffered_socket.hpp).
    // "100 Continue" is the event thread's to send, when a body is due.
    g.expect_continue = head.getExpectContinue() && length > 0;
    g.length = end + size_t(length);
    if (buf.size() < g.length) return g;
    g.kind = Gate::complete;
    g.request = buf.substr(0, g.length);
    return g;
}

}  // namespace exed::http
