// The operation catalogue: every operation exed knows, written once.
//
// Two tables. `operations()` are the API's operations (POST /<name>, and
// GET /<name> when sync is allowed) with their arguments; validation,
// routing, submission and the runner read them. `plugin_ops()` are the
// slots of the ABI's ops table (exed_ops) that a plugin implements; the
// registry and the plugin loader read them. A leaf of core: it includes
// nothing of ours but the SDK header, so every layer may use it.
#pragma once

#include <exed/sdk.h>

#include <cstddef>
#include <string>
#include <vector>

namespace exed::catalogue {

enum class Kind { Executor, Releaser };
const char* kind_name(Kind kind);  // "executor" | "releaser"
// The kind named `name`; false when there is none.
bool kind_of(const std::string& name, Kind& kind);

enum class ArgType { String, Int, Bool, Object, StringOrNull };

struct Arg {
    const char* name;
    ArgType type;
    bool required;
    bool non_empty = false;             // String: "" is refused
    int min = 0, max = -1;              // Int: refused outside [min, max] when max >= min
    const char* range_message = nullptr;  // what a value outside the range is told
};

// An operation of the API.
struct Operation {
    const char* name;   // "ping": also the path /ping
    Kind kind;          // which kind of plugin runs it
    bool sync_allowed;  // GET /<name>?target=... waits for the result
    bool read_only;     // only reads: safe to rerun when its worker was lost
    std::vector<Arg> args;
};

const std::vector<Operation>& operations();
// nullptr when `name` is not an operation.
const Operation* find(const std::string& name);

// A slot of the ops table: an operation as a plugin implements it.
struct PluginOp {
    const char* name;  // "targets", "ping", ..., "release", "rollback", "revision"
    Kind kind;
    size_t offset;     // offsetof(exed_ops, <name>): the table must cover it
    bool optional = false;  // never required, whatever the plugin's ABI minor (nodes)
};

const std::vector<PluginOp>& plugin_ops();
// nullptr when a plugin of `kind` has no op `name`.
const PluginOp* find_plugin_op(Kind kind, const std::string& name);
// The function in the slot, or nullptr when the table (by its struct_size)
// does not reach the slot or leaves it empty.
exed_op_fn slot(const exed_ops* ops, const PluginOp& op);

// The executor op that expands target patterns into host names.
extern const char* const expand_op;
// The optional executor op that reports the nodes it knows up or down
// (sdk.h, since 1.2): Shovey's node status and the agent gauges use it.
extern const char* const nodes_op;
// The optional executor op that finishes a lost worker's call (sdk.h 1.3).
extern const char* const resume_op;

// The plugin op that serves an API operation: its own name, except for
// "release", which is "rollback" (rollback), "revision" (revision "?") or
// "release".
std::string plugin_op_for(const Operation& op, bool rollback, const std::string& revision);

}  // namespace exed::catalogue
