// The arguments of each operation, checked before anything else happens.
// Sync requests come as query strings (all strings), async ones as JSON;
// both are normalised into one JSON object of the right types.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/NameValueCollection.h>

#include <string>
#include <vector>

namespace exed::operate {

// Operations that exist, and which of them may run in sync (GET) mode.
bool known_operation(const std::string& op);
bool sync_allowed(const std::string& op);
// Operations that only read (safe to rerun when a worker was lost).
bool read_only(const std::string& op);

// Validates an async body; returns the operation's arguments (without
// "targets", "run_timeout") and fills `targets` and `run_timeout` (0 = default).
// Throws ApiError(400) naming the field.
Poco::JSON::Object::Ptr args_from_body(const std::string& op, const Poco::JSON::Object::Ptr& body,
                                       std::vector<std::string>& targets, int& run_timeout);
// The same for a sync query string; `target` is required.
Poco::JSON::Object::Ptr args_from_query(const std::string& op,
                                        const Poco::Net::NameValueCollection& query,
                                        std::vector<std::string>& targets);

// "1", "true", "True" -> true; "0", "false", "False", "" -> false; else 400.
bool parse_flag(const std::string& name, const std::string& value);

}  // namespace exed::operate
