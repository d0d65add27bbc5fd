// Every Redis key exed uses, in one place (the table and the reasons are in
// docs/architecture.md, "Redis keys").
//
// Redis Cluster hashes only the part of a key inside its first {...}: the
// keys one script touches share that part, so that every script stays on
// one slot (no CROSSSLOT on a cluster) and stays atomic. Steps that must
// touch several slots are separate commands, pipelined (jobs/store.cpp).
#pragma once

#include <string>

namespace exed::jobs::keys {

// A job: its record, its per-host results and its event stream (one slot).
inline std::string job(const std::string& jid) { return "exed:{" + jid + "}:job"; }
inline std::string returns(const std::string& jid) { return "exed:{" + jid + "}:ret"; }
inline std::string events(const std::string& jid) { return "exed:{" + jid + "}:events"; }
// The listing: a zset (score = creation sequence) and its counter, one slot.
inline const std::string index = "exed:{jobs}:index";
inline const std::string seq = "exed:{jobs}:seq";
// Alone in its scripts: no tag needed.
inline const std::string queue = "exed:queue";     // stream of {jid}
inline const std::string group = "exed-workers";   // the queue's consumer group (not a key)
// Every host lock in one hash (one slot): host -> "<jid> <expiry epoch ms>".
inline const std::string locks = "exed:locks";
inline const std::string audit = "exed:audit";     // stream of {entry}: the audit trail (jobs/audit_stream)

// The agent node registry (nodes/registry.cpp).
inline constexpr const char* node_prefix = "exed:node:";  // hash per node; its Lua list gets it as ARGV
inline std::string node(const std::string& name) { return node_prefix + name; }
inline const std::string nodes = "exed:nodes";                  // set of node names
inline const std::string nodes_version = "exed:nodes:version";  // moves with every key or state change

}  // namespace exed::jobs::keys
