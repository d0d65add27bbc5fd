// JSON text <-> Poco values, the two helpers every layer of the core uses.
#pragma once

#include <Poco/Dynamic/Var.h>

#include <string>

namespace exed {

// Compact JSON text (object keys sorted, as Poco::JSON::Object keeps them).
// Always valid UTF-8: Poco's writer copies invalid bytes of a string
// through, which its parser then refuses; they become U+FFFD here
// (utf8.hpp), so exed can always read back what it wrote.
std::string json_string(const Poco::Dynamic::Var& v);
// Throws Poco::Exception on malformed text.
Poco::Dynamic::Var parse_json(const std::string& text);

}  // namespace exed
