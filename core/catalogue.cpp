#include "catalogue.hpp"

namespace exed::catalogue {

namespace {
using T = ArgType;
}  // namespace

const char* const expand_op = EXED_OP_TARGETS;
const char* const nodes_op = EXED_OP_NODES;
const char* const resume_op = EXED_OP_RESUME;

const char* kind_name(Kind kind) { return kind == Kind::Executor ? "executor" : "releaser"; }

bool kind_of(const std::string& name, Kind& kind) {
    for (Kind k : {Kind::Executor, Kind::Releaser})
        if (name == kind_name(k)) {
            kind = k;
            return true;
        }
    return false;
}

const std::vector<Operation>& operations() {
    using S = Scope;
    static const std::vector<Operation> ops = {
        {EXED_OP_PING, Kind::Executor, S::Run, true, true, "check that the hosts answer", {}},
        {EXED_OP_FACTER, Kind::Executor, S::Run, true, true, "gather the hosts' facts", {}},
        {EXED_OP_SERVICE, Kind::Executor, S::Run, true, false, "start, stop or restart a service",
         {{arg::name, T::String, true, true},
          {arg::state, T::Int, true, false, EXED_SERVICE_STARTED, EXED_SERVICE_RESTARTED, EXED_SERVICE_STATE_RULE},
          {arg::graceful, T::Bool, false}}},
        {EXED_OP_EXECUTE, Kind::Executor, S::Run, true, false, "run a command (no shell; ARGV passed exactly)",
         {{arg::cmd, T::String, true, true}}},
        {EXED_OP_DEPLOY, Kind::Executor, S::Deploy, false, false, "apply a role",
         {{arg::role, T::String, true, true},
          {arg::partial, T::StringOrNull, false},
          {arg::extra_vars, T::Object, false}}},
        {EXED_OP_RELEASE, Kind::Releaser, S::Release, false, false,
         "release an application revision (\"?\": ask)",
         {{arg::appname, T::String, true, true},
          {arg::apptype, T::String, true, true},
          {arg::revision, T::String, true},
          {arg::rollback, T::Bool, false},
          {arg::extra_opts, T::Object, false}}},
    };
    return ops;
}

const Operation* find(const std::string& name) {
    for (const auto& op : operations())
        if (name == op.name) return &op;
    return nullptr;
}

bool read_only(const std::string& name) {
    const auto* op = find(name);
    return op && op->read_only;
}

const std::vector<ServiceState>& service_states() {
    static const std::vector<ServiceState> states = {
        {EXED_SERVICE_STARTED, "start", "started"},
        {EXED_SERVICE_STOPPED, "stop", "stopped"},
        {EXED_SERVICE_RESTARTED, "restart", "restarted"},
    };
    return states;
}

const std::vector<PluginOp>& plugin_ops() {
#define EXED_SLOT_(name, kind, field) {name, Kind::kind, offsetof(exed_ops, field)}
    static const std::vector<PluginOp> ops = {
        EXED_SLOT_(EXED_OP_TARGETS, Executor, targets),
        EXED_SLOT_(EXED_OP_PING, Executor, ping),
        EXED_SLOT_(EXED_OP_FACTER, Executor, facter),
        EXED_SLOT_(EXED_OP_SERVICE, Executor, service),
        EXED_SLOT_(EXED_OP_EXECUTE, Executor, execute),
        EXED_SLOT_(EXED_OP_DEPLOY, Executor, deploy),
        EXED_SLOT_(EXED_OP_RELEASE, Releaser, release),
        EXED_SLOT_(EXED_OP_ROLLBACK, Releaser, rollback),
        EXED_SLOT_(EXED_OP_REVISION, Releaser, revision),
        {EXED_OP_NODES, Kind::Executor, offsetof(exed_ops, nodes), true},
        {EXED_OP_RESUME, Kind::Executor, offsetof(exed_ops, resume), true},
    };
#undef EXED_SLOT_
    return ops;
}

const PluginOp* find_plugin_op(Kind kind, const std::string& name) {
    for (const auto& op : plugin_ops())
        if (op.kind == kind && name == op.name) return &op;
    return nullptr;
}

exed_op_fn slot(const exed_ops* ops, const PluginOp& op) {
    // struct_size first: a table built against an older minor ends earlier,
    // and nothing past its end may be read.
    if (!ops || ops->struct_size < op.offset + sizeof(exed_op_fn)) return nullptr;
    return *reinterpret_cast<const exed_op_fn*>(reinterpret_cast<const char*>(ops) + op.offset);
}

std::string plugin_op_for(const Operation& op, bool rollback, const std::string& revision) {
    if (op.kind == Kind::Executor) return op.name;
    return rollback ? EXED_OP_ROLLBACK : revision == "?" ? EXED_OP_REVISION : EXED_OP_RELEASE;
}

}  // namespace exed::catalogue
