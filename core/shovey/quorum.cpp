#include "shovey/quorum.hpp"

#include "errors.hpp"
#include "operate/numbers.hpp"

#include <Poco/NumberParser.h>

#include <string>

namespace exed::shovey {

namespace {

[[noreturn]] void bad(const std::string& why) {
    throw DomainError(Errc::invalid, "quorum " + why + " (give \"N%\" with N from 0 to 100, or a count of nodes)");
}

size_t checked_count(Poco::Int64 n, size_t nodes) {
    if (n < 0 || Poco::UInt64(n) > nodes)
        bad("of " + std::to_string(n) + " is not between 0 and the " + std::to_string(nodes) + " node(s)");
    return size_t(n);
}

}  // namespace

size_t required_nodes(const Poco::Dynamic::Var& quorum, size_t nodes) {
    if (quorum.isEmpty()) return nodes;
    if (quorum.isInteger() && !quorum.isBoolean()) {
        int64_t n = 0;
        if (!operate::json_integer(quorum, INT64_MIN, INT64_MAX, n)) bad("is out of range");
        return checked_count(n, nodes);
    }
    if (!quorum.isString()) bad("must be a string or an integer");
    std::string q = quorum.extract<std::string>();
    bool percent = !q.empty() && q.back() == '%';
    std::string digits = percent ? q.substr(0, q.size() - 1) : q;
    // Digits only: NumberParser alone would take "+5", " 5" or "0x5".
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
        bad("'" + q.substr(0, 40) + "' is malformed");
    Poco::Int64 n = Poco::NumberParser::parse64(digits);
    if (!percent) return checked_count(n, nodes);
    if (n > 100) bad("'" + q + "' is over 100%");
    // ceil(n% of nodes), in integers: no floating point rounding surprises.
    return size_t((Poco::UInt64(n) * nodes + 99) / 100);
}

}  // namespace exed::shovey
