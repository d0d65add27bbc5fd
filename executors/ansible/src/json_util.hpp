// Small JSON helpers over Poco::JSON, shared by the ansible executor's units.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <string>

namespace exed::ansible {

using Poco::JSON::Array;
using Poco::JSON::Object;

// Compact JSON text of any Poco value.
std::string to_json(const Poco::Dynamic::Var& value);

// Parses `json`, which must be an object; throws exed::BadInput otherwise.
Object::Ptr parse_object(const std::string& json, const std::string& what = "arguments");

// A one-key event {host: body}, as the job stream expects.
std::string host_event(const std::string& host, const Object::Ptr& body);

}  // namespace exed::ansible
