// Every Redis key exed uses, in one place (documented in docs/architecture.md).
#pragma once

#include <string>

namespace exed::jobs::keys {

// A job's keys start with this. constexpr (constant-initialised): the Lua
// scripts of jobs/store.cpp, built at static initialisation, spell it too.
inline constexpr const char* job_prefix = "exed:job:";

inline std::string job(const std::string& jid) { return job_prefix + jid; }
inline std::string returns(const std::string& jid) { return job_prefix + jid + ":ret"; }
inline std::string events(const std::string& jid) { return job_prefix + jid + ":events"; }
inline std::string lock(const std::string& host) { return "exed:lock:" + host; }
inline const std::string index = "exed:jobs";      // zset: score = creation sequence
inline const std::string seq = "exed:jobs:seq";    // the creation sequence counter
inline const std::string queue = "exed:queue";     // stream of {jid}
inline const std::string group = "exed-workers";   // the queue's consumer group
inline const std::string audit = "exed:audit";     // stream of {entry}: the audit trail (jobs/audit_stream)

// The agent node registry (nodes/registry.cpp).
inline constexpr const char* node_prefix = "exed:node:";  // hash per node; its Lua list gets it as ARGV
inline std::string node(const std::string& name) { return node_prefix + name; }
inline const std::string nodes = "exed:nodes";                  // set of node names
inline const std::string nodes_version = "exed:nodes:version";  // moves with every key or state change

}  // namespace exed::jobs::keys
