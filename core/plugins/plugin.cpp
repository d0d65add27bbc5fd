#include "plugins/plugin.hpp"

#include "catalogue.hpp"
#include "plugins/call.hpp"

#include <Poco/Logger.h>

namespace exed::plugins {

Plugin::Plugin(boost::dll::shared_library lib, const exed_plugin_desc* desc, PluginInfo info,
               std::string config_json)
    : lib_(std::move(lib)), desc_(desc), info_(std::move(info)), config_(std::move(config_json)) {}

Plugin::~Plugin() {
    if (initialised_ && desc_->ops->fini) desc_->ops->fini(state_);
}

bool Plugin::init(std::string& error) {
    exed_call call;
    call.config = &config_;
    call.plugin_type = info_.type;
    int rc = desc_->ops->init(host_api(), &call, config_.c_str(), &state_);
    if (rc != EXED_OK) {
        error = call.error.empty() ? "init returned " + std::to_string(rc) : call.error;
        return false;
    }
    initialised_ = true;
    return true;
}

// Looks an operation up in the ops table, honouring the table's struct_size:
// a plugin built against an older minor version simply lacks later fields.
exed_op_fn Plugin::op_fn(const std::string& op) const {
    catalogue::Kind kind;
    if (!catalogue::kind_of(info_.kind, kind)) return nullptr;
    const auto* slot = catalogue::find_plugin_op(kind, op);
    return slot ? catalogue::slot(desc_->ops, *slot) : nullptr;
}

bool Plugin::has_op(const std::string& op) const { return op_fn(op) != nullptr; }

OpResult Plugin::invoke(const std::string& op, const std::string& args_json,
                        CallHooks& hooks) const {
    OpResult out;
    exed_op_fn fn = op_fn(op);
    if (!fn) {
        out.status = EXED_ERR_UNSUPPORTED;
        out.error = "plugin '" + info_.type + "' does not support operation '" + op + "'";
        return out;
    }
    exed_call call;
    call.hooks = &hooks;
    call.config = &config_;
    call.plugin_type = info_.type;
    out.status = fn(state_, &call, args_json.c_str());
    std::lock_guard<std::mutex> lock(call.mutex);
    out.result = std::move(call.result);
    out.error = std::move(call.error);
    if (!out.ok() && out.error.empty()) out.error = op + " failed (status " + std::to_string(out.status) + ")";
    return out;
}

OpResult Plugin::check(const std::string& op, const std::string& args_json) const {
    OpResult out;
    const exed_ops* ops = desc_->ops;
    if (!EXED_HAS_FIELD(ops, exed_ops, check) || !ops->check) return out;
    exed_call call;
    call.config = &config_;
    call.plugin_type = info_.type;
    out.status = ops->check(state_, &call, op.c_str(), args_json.c_str());
    out.error = call.error;
    if (!out.ok() && out.error.empty()) out.error = "invalid arguments for " + op;
    return out;
}

}  // namespace exed::plugins
