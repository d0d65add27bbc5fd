// ExecutorClient over the plugins loaded in this process (the Registry).
#pragma once

#include "plugins/executor_client.hpp"
#include "plugins/registry.hpp"

#include <string>

namespace exed::plugins {

class InProcessClient : public ExecutorClient {
public:
    InProcessClient(Registry& registry, std::string executor_type)
        : registry_(registry), executor_type_(std::move(executor_type)) {}

    bool available(const PluginRef& plugin) const override;
    bool implements(const PluginRef& plugin, const std::string& op) const override;
    Prepared prepare(const PrepareRequest& request) override;
    OpResult run(const PluginRef& plugin, const std::string& op, const std::string& document,
                 CallHooks& hooks) override;
    PluginRef executor() const override;
    OpResult health() override;

private:
    PluginPtr find(const PluginRef& plugin) const { return registry_.find(plugin.kind, plugin.type); }
    // Fills hosts/unmatched; false (with status/error set) when the executor failed.
    bool expand(const std::vector<std::string>& patterns, Prepared& out);

    Registry& registry_;
    std::string executor_type_;
};

}  // namespace exed::plugins
