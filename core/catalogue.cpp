#include "catalogue.hpp"

namespace exed::catalogue {

namespace {
using T = ArgType;
}  // namespace

const char* const expand_op = "targets";
const char* const nodes_op = "nodes";
const char* const resume_op = "resume";

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
    static const std::vector<Operation> ops = {
        {"ping", Kind::Executor, true, true, {}},
        {"facter", Kind::Executor, true, true, {}},
        {"service", Kind::Executor, true, false,
         {{"name", T::String, true, true},
          {"state", T::Int, true, false, 0, 2, "state must be 0 (started), 1 (stopped) or 2 (restarted)"},
          {"graceful", T::Bool, false}}},
        {"execute", Kind::Executor, true, false, {{"cmd", T::String, true, true}}},
        {"deploy", Kind::Executor, false, false,
         {{"role", T::String, true, true},
          {"partial", T::StringOrNull, false},
          {"extra_vars", T::Object, false}}},
        {"release", Kind::Releaser, false, false,
         {{"appname", T::String, true, true},
          {"apptype", T::String, true, true},
          {"revision", T::String, true},
          {"rollback", T::Bool, false},
          {"extra_opts", T::Object, false}}},
    };
    return ops;
}

const Operation* find(const std::string& name) {
    for (const auto& op : operations())
        if (name == op.name) return &op;
    return nullptr;
}

const std::vector<PluginOp>& plugin_ops() {
#define EXED_SLOT_(kind, field) {#field, Kind::kind, offsetof(exed_ops, field)}
    static const std::vector<PluginOp> ops = {
        EXED_SLOT_(Executor, targets), EXED_SLOT_(Executor, ping),    EXED_SLOT_(Executor, facter),
        EXED_SLOT_(Executor, service), EXED_SLOT_(Executor, execute), EXED_SLOT_(Executor, deploy),
        EXED_SLOT_(Releaser, release), EXED_SLOT_(Releaser, rollback), EXED_SLOT_(Releaser, revision),
        {"nodes", Kind::Executor, offsetof(exed_ops, nodes), true},
        {"resume", Kind::Executor, offsetof(exed_ops, resume), true},
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
    return rollback ? "rollback" : revision == "?" ? "revision" : "release";
}

}  // namespace exed::catalogue
