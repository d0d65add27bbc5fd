// The operation catalogue: every operation exed knows, written once.
//
// Two tables. `operations()` are the API's operations (POST /<name>, and
// GET /<name> when sync is allowed) with their arguments; validation,
// routing, submission and the runner read them. `plugin_ops()` are the
// slots of the ABI's ops table (exed_ops) that a plugin implements; the
// registry and the plugin loader read them. The faces, the authoriser,
// exectl and the OpenAPI test read the same table. The names themselves
// (and the service states) are spelled once, in the SDK header, which the
// plugins dispatch on. A leaf of core: it includes nothing of ours but the
// SDK header, so every layer may use it, and it is a library of its own
// (exed_catalogue) that exectl links without the daemon.
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

// The API's argument names, for the code that reads or writes one of them
// (the table below, the submitter, exectl).
namespace arg {
constexpr const char* targets = "targets";
constexpr const char* run_timeout = "run_timeout";
constexpr const char* name = "name";
constexpr const char* state = "state";
constexpr const char* graceful = "graceful";
constexpr const char* cmd = "cmd";
constexpr const char* role = "role";
constexpr const char* partial = "partial";
constexpr const char* extra_vars = "extra_vars";
constexpr const char* appname = "appname";
constexpr const char* apptype = "apptype";
constexpr const char* revision = "revision";  // "?": ask for the live revision
constexpr const char* rollback = "rollback";
constexpr const char* extra_opts = "extra_opts";
}  // namespace arg

// The token scope an operation needs (docs/security.md); the authoriser
// maps it to its scope bits.
enum class Scope { Run, Deploy, Release };

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
    const char* name;   // EXED_OP_PING: also the path /ping
    Kind kind;          // which kind of plugin runs it
    Scope scope;        // what a token needs to run it (and to cancel its jobs)
    bool sync_allowed;  // GET /<name>?target=... waits for the result
    bool read_only;     // only reads: safe to rerun when its worker was lost
    const char* summary;  // one line, for help texts (exectl)
    std::vector<Arg> args;
};

const std::vector<Operation>& operations();
// nullptr when `name` is not an operation.
const Operation* find(const std::string& name);
// Whether operation `name` only reads (a job of it may simply run again
// when its worker was lost); false for a name that is no operation.
bool read_only(const std::string& name);

// The service states (sdk.h exed_service_state) with their words: the verb
// exectl takes ("start") and the participle messages use ("started").
struct ServiceState {
    exed_service_state value;
    const char* verb;
    const char* participle;
};
const std::vector<ServiceState>& service_states();

// A slot of the ops table: an operation as a plugin implements it.
struct PluginOp {
    const char* name;  // EXED_OP_TARGETS, EXED_OP_PING, ..., EXED_OP_REVISION
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
// release, which is rollback (arg rollback), revision (arg revision "?") or
// release.
std::string plugin_op_for(const Operation& op, bool rollback, const std::string& revision);

}  // namespace exed::catalogue
