// Integers as the faces read them, one rule for both (EXEd REST and
// Shovey): a value out of range or of the wrong shape is a 400 with a
// message naming the field and its range, never a 500 (issue 23: Shovey's
// run_timeout of 2^63 was "Out of range" from a Poco conversion), and
// never quietly read as something else ("1,000" as 1000, " 5" as 5).
#pragma once

#include <Poco/Dynamic/Var.h>

#include <cstdint>
#include <string>

namespace exed::operate {

// A JSON value (as Poco parsed it) that is an integer within [min, max]:
// not a boolean, not a double (5.0), not past int64 (Poco keeps 2^63 ..
// 2^64-1 as UInt64; the body check refuses more, http/json_numbers.hpp).
bool json_integer(const Poco::Dynamic::Var& value, int64_t min, int64_t max, int64_t& out);
// Text (a query parameter, a header) that is a decimal integer within
// [min, max]: an optional '-' and digits, nothing else (no '+', spaces,
// thousands separators or hex, which Poco's NumberParser would take).
bool text_integer(const std::string& text, int64_t min, int64_t max, int64_t& out);

// The same, throwing DomainError(invalid, message) when the value is not
// one: each face maps it to 400 {"message"}.
int64_t require_json_integer(const Poco::Dynamic::Var& value, int64_t min, int64_t max,
                             const std::string& message);
int64_t require_text_integer(const std::string& text, int64_t min, int64_t max, const std::string& message);

// "<name> must be an integer from <min> to <max>", the usual message.
std::string range_message(const std::string& name, int64_t min, int64_t max);

}  // namespace exed::operate
