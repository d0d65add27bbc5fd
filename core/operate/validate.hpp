// The arguments of each operation, checked before anything else happens.
// Sync requests come as query strings (all strings), async ones as JSON;
// both are normalised into one JSON object of the right types.
#pragma once

#include <Poco/JSON/Object.h>

#include <map>
#include <string>
#include <vector>

namespace exed::operate {

// The operations and their arguments are in catalogue.hpp.

// Validates an async body; returns the operation's arguments (without
// "targets", "run_timeout") and fills `targets` and `run_timeout` (0 = default).
// Throws DomainError(invalid) naming the field.
Poco::JSON::Object::Ptr args_from_body(const std::string& op, const Poco::JSON::Object::Ptr& body,
                                       std::vector<std::string>& targets, int& run_timeout);
// The same for a sync query string; `target` is required.
// A face's query parameters (last value wins), of no particular protocol.
using Query = std::map<std::string, std::string>;
Poco::JSON::Object::Ptr args_from_query(const std::string& op, const Query& query,
                                        std::vector<std::string>& targets);

// "1", "true", "True" -> true; "0", "false", "False", "" -> false; else invalid.
bool parse_flag(const std::string& name, const std::string& value);

}  // namespace exed::operate
