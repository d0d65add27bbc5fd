// Small helpers over Poco::JSON used by every part of the salt plugin, so the
// parsing and type checks read the same everywhere.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <string>
#include <vector>

namespace exed::salt {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

// Parses any JSON document.
Var parse_json(const std::string& text);
// Parses a JSON object; throws exed::BadInput (`what` names the document) otherwise.
Object::Ptr parse_object(const std::string& text, const std::string& what);
// Compact JSON of any value (Object, Array, Ptr or scalar).
std::string to_json(const Var& value);

bool is_object(const Var& v);
bool is_array(const Var& v);
// The object / array inside a Var (nullptr when it is not one).
Object::Ptr as_object(const Var& v);
Array::Ptr as_array(const Var& v);

// Array of strings -> vector (non-strings are skipped).
std::vector<std::string> string_list(const Var& v);

// A one-key object {key: value}, e.g. a per-minion event.
Object::Ptr keyed(const std::string& key, const Var& value);

}  // namespace exed::salt
