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

// ---- The node registry and the Shovey store (below: not the job keys) ----
// Redis Cluster hashes only the text inside the first {...} of a key: keys
// that share a tag share a slot, and each script below touches one tag.

// The agent node registry (nodes/registry.cpp): one slot, {nodes}, so that
// its scripts (a name's record, the set of names, the version) stay atomic.
inline std::string node(const std::string& name) { return "exed:{nodes}:node:" + name; }  // hash
inline const std::string nodes = "exed:{nodes}:names";            // set of node names
inline const std::string nodes_version = "exed:{nodes}:version";  // moves with every key or state change

// The Shovey store (jobs/shovey_store.*). A Shovey job's record and its
// reported output share the job's tag; the index and its sequence one tag;
// node statuses, their histories, the set of names and the per-status
// counts another (one check updates all four at once).
inline std::string shovey_job(const std::string& id) { return "exed:{shovey:" + id + "}:job"; }        // hash
inline std::string shovey_output(const std::string& id) { return "exed:{shovey:" + id + "}:output"; }  // hash
inline const std::string shovey_index = "exed:{shovey}:index";  // zset: score = creation sequence
inline const std::string shovey_seq = "exed:{shovey}:seq";
inline std::string shovey_node(const std::string& n) { return "exed:{shovey-nodes}:node:" + n; }        // hash
inline std::string shovey_history(const std::string& n) { return "exed:{shovey-nodes}:history:" + n; }  // list
inline const std::string shovey_nodes = "exed:{shovey-nodes}:names";         // set of names with a status
inline const std::string shovey_node_counts = "exed:{shovey-nodes}:counts";  // hash: status -> nodes in it
inline const std::string shovey_check_lease = "exed:shovey:check";  // string: the node check lease holder

}  // namespace exed::jobs::keys
