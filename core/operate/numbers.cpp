#include "operate/numbers.hpp"

#include "errors.hpp"

#include <Poco/NumberParser.h>

#include <cstdint>

namespace exed::operate {

bool json_integer(const Poco::Dynamic::Var& value, int64_t min, int64_t max, int64_t& out) {
    if (!value.isInteger() || value.isBoolean()) return false;
    Poco::Int64 n = 0;
    try {
        n = value.convert<Poco::Int64>();
    } catch (const Poco::Exception&) {  // a UInt64 past int64: out of every range we have
        return false;
    }
    if (n < min || n > max) return false;
    out = n;
    return true;
}

bool text_integer(const std::string& text, int64_t min, int64_t max, int64_t& out) {
    size_t digits = !text.empty() && text[0] == '-' ? 1 : 0;
    // Past 19 digits nothing fits in int64; the bound also keeps the work small.
    if (text.size() == digits || text.size() - digits > 19 ||
        text.find_first_not_of("0123456789", digits) != std::string::npos)
        return false;
    Poco::Int64 n = 0;
    // The shape is plain decimal, so Poco's parse (overflow-checked) reads just that.
    if (!Poco::NumberParser::tryParse64(text, n) || n < min || n > max) return false;
    // Poco 1.11 reads -9223372036854775809 as the smallest int64 (no error).
    if (n == INT64_MIN && text != "-9223372036854775808") return false;
    out = n;
    return true;
}

int64_t require_json_integer(const Poco::Dynamic::Var& value, int64_t min, int64_t max,
                             const std::string& message) {
    int64_t n = 0;
    if (!json_integer(value, min, max, n)) throw DomainError(Errc::invalid, message);
    return n;
}

int64_t require_text_integer(const std::string& text, int64_t min, int64_t max, const std::string& message) {
    int64_t n = 0;
    if (!text_integer(text, min, max, n)) throw DomainError(Errc::invalid, message);
    return n;
}

std::string range_message(const std::string& name, int64_t min, int64_t max) {
    return name + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

}  // namespace exed::operate
