// ExecutorClient over the plugin host process ([plugins] isolation =
// process, the default): exed runs no plugin code itself. What the host
// loaded comes from its hello (available, implements, GET /plugins);
// prepare, health and run are calls to it. A run carries the job's deadline
// and id; the host sends its events and process groups back, and cancel
// goes to it. When the host dies mid-call the call ends kStatusCrashed, and
// the process groups it had started for that call are killed here.
#pragma once

#include "plugins/executor_client.hpp"
#include "plugins/registry.hpp"
#include "pluginhost/host_process.hpp"

#include <string>

namespace exed::pluginhost {

class PluginHostClient : public plugins::ExecutorClient {
public:
    // Starts the host for `config_path` in the background (wait_ready()
    // says when its plugins are loaded); what it loads is mirrored into
    // `registry` (listing only) at every start.
    PluginHostClient(const std::string& config_path, std::string executor_type,
                     plugins::Registry& registry);
    ~PluginHostClient() override;

    bool available(const plugins::PluginRef& plugin) const override;
    bool implements(const plugins::PluginRef& plugin, const std::string& op) const override;
    plugins::Prepared prepare(const plugins::PrepareRequest& request) override;
    plugins::OpResult run(const plugins::PluginRef& plugin, const std::string& op,
                          const std::string& document, plugins::CallHooks& hooks) override;
    plugins::PluginRef executor() const override;
    plugins::OpResult health() override;
    bool wait_ready(std::chrono::milliseconds wait) override;
    bool ready() const override;

    pid_t host_pid() const { return host_.pid(); }

private:
    HostProcess host_;
    std::string executor_type_;
};

}  // namespace exed::pluginhost
