#include "http/context.hpp"

#include "http/api_error.hpp"
#include "http/json_numbers.hpp"
#include "json.hpp"
#include "operate/validate.hpp"
#include "utf8.hpp"

#include <Poco/JSON/JSONException.h>
#include <Poco/StreamCopier.h>

#include <sstream>

namespace exed::http {

Poco::JSON::Object::Ptr Context::body_object() {
    std::string body;
    std::istream& in = request.stream();
    char buf[8192];
    size_t total = 0;
    // Read (and drop) a moderately oversized body before answering 413, so
    // the client sees the answer rather than a reset while still sending;
    // past 16x the limit, stop reading and let the connection close.
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        total += size_t(in.gcount());
        if (total <= max_body) body.append(buf, size_t(in.gcount()));
        if (total > 16 * max_body) break;
    }
    if (total > max_body) {
        if (total > 16 * max_body) response.setKeepAlive(false);
        throw ApiError(413, "request body larger than " + std::to_string(max_body) + " bytes");
    }
    if (body.empty()) throw ApiError(400, "a JSON object body is required");
    // Raw bytes first; escapes that decode to no character (a lone UTF-16
    // surrogate, "\ud800" or "\udc00") Poco's parser refuses below.
    if (!valid_utf8(body)) throw ApiError(400, "the body is not valid UTF-8");
    refuse_integers_past_64_bits(body);
    Poco::Dynamic::Var v;
    try {
        v = parse_json(body);
    } catch (const Poco::Exception& e) {
        std::string why = e.message();
        if (why.find("surrogate") != std::string::npos)
            throw ApiError(400, "malformed JSON: a \\u escape is a lone UTF-16 surrogate (" + why + ")");
        throw ApiError(400, "malformed JSON: " + why);
    }
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) throw ApiError(400, "the body must be a JSON object");
    return v.extract<Poco::JSON::Object::Ptr>();
}

void Context::json(int status, const Poco::Dynamic::Var& body) {
    std::string text = json_string(body);
    response.setStatusAndReason(Poco::Net::HTTPResponse::HTTPStatus(status));
    response.setContentType("application/json");
    response.setContentLength64(Poco::Int64(text.size()));
    response.send() << text;
    bytes_sent = long(text.size());
}

void Context::no_content() {
    response.setStatus(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
    response.setContentLength(0);
    response.send();
    bytes_sent = 0;
}

bool Context::flag(const std::string& name) {
    return query.has(name) && operate::parse_flag(name, query.get(name));
}

void Context::only_params(std::initializer_list<const char*> allowed) {
    for (const auto& [k, v] : query) {
        bool ok = false;
        for (const char* a : allowed) ok = ok || k == a;
        if (!ok) throw ApiError(400, "unknown parameter '" + k + "'");
    }
}

}  // namespace exed::http
