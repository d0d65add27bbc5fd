#include "salt_messages.hpp"

#include "salt_json.hpp"

#include <Poco/String.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace exed::salt {

namespace {

// The entities cherrypy's escaping produces; others are left as they are.
std::string decode_entities(std::string s) {
    static const std::pair<const char*, const char*> entities[] = {
        {"&#x27;", "'"}, {"&#39;", "'"}, {"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"},
        {"&amp;", "&"}};  // &amp; last: "&amp;lt;" must stay "&lt;"
    for (auto& [from, to] : entities) Poco::replaceInPlace(s, std::string(from), std::string(to));
    return s;
}

std::string without_tags(const std::string& html) {
    std::string out;
    bool in_tag = false;
    for (char c : html) {
        if (c == '<') in_tag = true;
        else if (c == '>') in_tag = false;
        else if (!in_tag) out += c;
    }
    return out;
}

// Newlines and runs of blanks become one space: error messages are one line.
std::string one_line(const std::string& s) {
    std::string out;
    for (char c : s) {
        bool blank = std::isspace(static_cast<unsigned char>(c)) != 0;
        if (blank && (out.empty() || out.back() == ' ')) continue;
        out += blank ? ' ' : c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

}  // namespace

std::string error_body_reason(const std::string& body) {
    auto p = body.find("<p>");
    auto end = p == std::string::npos ? p : body.find("</p>", p);
    if (end != std::string::npos) {
        std::string reason = one_line(decode_entities(without_tags(body.substr(p + 3, end - p - 3))));
        if (!reason.empty()) return reason;
    }
    try {
        if (auto obj = as_object(parse_json(body)); obj && obj->get("return").isString())
            return one_line(obj->get("return").toString());
    } catch (const std::exception&) {
    }
    return one_line(body.substr(0, 200));
}

std::string without_command_context(const std::string& text) {
    static const std::string context = " with the context '";
    static const std::string reason = "', reason: ";
    auto c = text.find(context);
    auto r = text.rfind(reason);
    if (c == std::string::npos || r == std::string::npos || r < c) return text;
    return text.substr(0, c) + ", reason: " + text.substr(r + reason.size());
}

}  // namespace exed::salt
