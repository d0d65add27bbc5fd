// Finds, loads and keeps plugins, keyed by (kind, type).
#pragma once

#include "plugins/plugin.hpp"

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace exed::plugins {

// One refusal: which file and why. Also written as one log line.
struct Refusal {
    std::string path;
    std::string reason;
};

class Registry {
public:
    // Returns the config section of a plugin type as a JSON object of strings.
    using ConfigFor = std::function<std::string(const std::string& type)>;

    explicit Registry(ConfigFor config_for = {});

    // Loads every *.so in each dir (sorted by name, so duplicates resolve the
    // same way every time). Never throws for a bad plugin: it is refused.
    void load_dirs(const std::vector<std::string>& dirs);
    // Loads one file; returns false (and records a refusal) when refused.
    bool load_file(const std::string& path);

    // Plugins loaded in another process (the plugin host), as it reported
    // them: list() and refusals() answer for them without loading
    // anything here; find() does not (they are called through the host).
    // Replaces what an earlier report said.
    void mirror(std::vector<PluginInfo> loaded, std::vector<Refusal> refused);

    PluginPtr find(const std::string& kind, const std::string& type) const;
    std::vector<PluginInfo> list() const;
    std::vector<PluginInfo> list(const std::string& kind) const;
    std::vector<Refusal> refusals() const;

private:
    void refuse(const std::string& path, const std::string& reason);

    ConfigFor config_for_;
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, PluginPtr> plugins_;
    std::vector<Refusal> refusals_;
    std::vector<PluginInfo> mirrored_;
    std::vector<Refusal> mirrored_refusals_;
};

}  // namespace exed::plugins
