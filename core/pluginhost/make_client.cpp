#include "pluginhost/make_client.hpp"

#include "plugins/in_process_client.hpp"
#include "pluginhost/host_client.hpp"

namespace exed::pluginhost {

std::unique_ptr<plugins::ExecutorClient> make_executor_client(const Settings& settings,
                                                              plugins::Registry& registry) {
    if (settings.plugin_isolation == "in_process") {
        registry.load_dirs(settings.plugin_dirs);
        return std::make_unique<plugins::InProcessClient>(registry, settings.executor);
    }
    return std::make_unique<PluginHostClient>(settings.config_path, settings.executor, registry);
}

}  // namespace exed::pluginhost
