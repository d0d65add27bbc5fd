#include "http/event_format.hpp"

#include <Poco/JSON/Stringifier.h>

#include <sstream>

namespace exed::http {

namespace {

bool u64_decimal(const std::string& s, size_t from, size_t to) {
    static const std::string max = "18446744073709551615";
    if (from >= to || to - from > max.size()) return false;
    for (size_t i = from; i < to; ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    // Same length as the maximum: compare digit by digit.
    return to - from < max.size() || s.compare(from, to - from, max) <= 0;
}

std::string json_quoted(const std::string& s) {
    std::ostringstream out;
    Poco::JSON::Stringifier::formatString(s, out);
    return out.str();
}

std::string without_newlines(std::string s, char replacement) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c != '\n' && c != '\r') out += c;
        else if (replacement) out += replacement;
    }
    return out;
}

}  // namespace

bool valid_stream_id(const std::string& id) {
    size_t dash = id.find('-');
    if (dash == std::string::npos) return u64_decimal(id, 0, id.size());
    return u64_decimal(id, 0, dash) && u64_decimal(id, dash + 1, id.size());
}

std::string format_event(bool sse, const std::string& type, const std::string& id,
                         const std::string& data) {
    std::string body = data.empty() ? "null" : data;
    std::string out;
    if (sse) {
        if (!id.empty()) out += "id: " + without_newlines(id, 0) + "\n";
        out += "event: " + without_newlines(type, 0) + "\n";
        size_t start = 0;
        for (;;) {
            size_t nl = body.find_first_of("\r\n", start);
            out += "data: " + body.substr(start, nl == std::string::npos ? nl : nl - start) + "\n";
            if (nl == std::string::npos) break;
            start = nl + 1;
            if (body[nl] == '\r' && start < body.size() && body[start] == '\n') ++start;
        }
        out += "\n";
    } else {
        out += "{\"event\":" + json_quoted(type);
        if (!id.empty()) out += ",\"id\":" + json_quoted(id);
        out += ",\"data\":" + without_newlines(body, ' ') + "}\n";
    }
    return out;
}

}  // namespace exed::http
