#include "http/request_text.hpp"

#include "http/api_error.hpp"
#include "utf8.hpp"

namespace exed::http {

namespace {

// A name for the message: itself only when it is short, valid and plain.
std::string shown(const std::string& name) {
    if (name.empty() || name.size() > 64 || !valid_utf8(name)) return "";
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f) return "";
    return " '" + name + "'";
}

}  // namespace

void refuse_invalid_utf8(const Poco::Net::HTTPServerRequest& request, const std::string& path,
                         const Poco::Net::NameValueCollection& query) {
    if (!valid_utf8(path)) throw ApiError(400, "the request path is not valid UTF-8");
    for (const auto& [name, value] : query) {
        if (!valid_utf8(name)) throw ApiError(400, "a query parameter name is not valid UTF-8");
        if (!valid_utf8(value)) throw ApiError(400, "the query parameter" + shown(name) + " is not valid UTF-8");
    }
    for (const auto& [name, value] : request) {
        if (!valid_utf8(name)) throw ApiError(400, "a header name is not valid UTF-8");
        if (!valid_utf8(value)) throw ApiError(400, "the header" + shown(name) + " is not valid UTF-8");
    }
}

}  // namespace exed::http
