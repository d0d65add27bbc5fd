#include "http/json_numbers.hpp"

#include "http/api_error.hpp"

namespace exed::http {

namespace {
bool digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

void refuse_integers_past_64_bits(const std::string& json) {
    static const std::string max = "18446744073709551615";
    size_t i = 0, n = json.size();
    while (i < n) {
        char c = json[i];
        if (c == '"') {  // skip the string, escapes included
            for (++i; i < n && json[i] != '"'; ++i)
                if (json[i] == '\\') ++i;
            ++i;
            continue;
        }
        if (!digit(c)) {
            ++i;
            continue;
        }
        size_t start = i;
        while (i < n && digit(json[i])) ++i;
        bool fraction = i < n && (json[i] == '.' || json[i] == 'e' || json[i] == 'E');
        if (fraction) {  // a double: Poco reads it as one
            while (i < n && (digit(json[i]) || json[i] == '.' || json[i] == 'e' || json[i] == 'E' ||
                             json[i] == '+' || json[i] == '-'))
                ++i;
            continue;
        }
        size_t first = start;
        while (first + 1 < i && json[first] == '0') ++first;  // JSON forbids them; be safe
        size_t len = i - first;
        if (len > max.size() || (len == max.size() && json.compare(first, len, max) > 0))
            throw ApiError(400, "the number " + json.substr(start, std::min<size_t>(i - start, 40)) +
                                    " does not fit in 64 bits");
    }
}

}  // namespace exed::http
