// The JSON documents of the Shovey API (shapes as in shovey-api.md).
#pragma once

#include "shovey/runs.hpp"
#include "jobs/shovey_store.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <string>
#include <vector>

namespace exed::shovey {

// RFC 3339 in UTC with microseconds ("" for 0).
std::string rfc3339(int64_t epoch_ms);

// {command, created_at, id, nodes: {status: [names]}, run_timeout, status, updated_at}
Poco::JSON::Object::Ptr job_document(const JobRecord& job, const std::vector<Run>& runs,
                                     const std::string& status, int64_t updated_ms);

// {run_id, node_name, status, ack_time, end_time, output, error, stderr, exit_status}
Poco::JSON::Object::Ptr run_document(const std::string& id, const Run& run);

// {node_name, status, updated_at[, url]}
Poco::JSON::Object::Ptr node_document(const NodeStatus& s, const std::string& url = "");

}  // namespace exed::shovey
