#include "utf8.hpp"

#include <Poco/UTF8Encoding.h>

namespace exed {

namespace {

// The length of the legal sequence starting at `at`, 0 when there is none.
size_t legal_at(std::string_view text, size_t at) {
    auto c = static_cast<unsigned char>(text[at]);
    if (c < 0x80) return 1;
    // Lead bytes by Poco's rules; isLegal rejects every other lead too.
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || text.size() - at < n) return 0;
    auto bytes = reinterpret_cast<const unsigned char*>(text.data() + at);
    return Poco::UTF8Encoding::isLegal(bytes, int(n)) ? n : 0;
}

}  // namespace

bool valid_utf8(std::string_view text) {
    for (size_t at = 0; at < text.size();) {
        if (static_cast<unsigned char>(text[at]) < 0x80) {
            ++at;
            continue;
        }
        size_t n = legal_at(text, at);
        if (n == 0) return false;
        at += n;
    }
    return true;
}

std::string repaired_utf8(std::string text) {
    if (valid_utf8(text)) return text;
    std::string out;
    out.reserve(text.size() + 16);
    for (size_t at = 0; at < text.size();) {
        size_t n = legal_at(text, at);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
            ++at;
        } else {
            out.append(text, at, n);
            at += n;
        }
    }
    return out;
}

}  // namespace exed
