#include "shovey/shovey_config.hpp"

#include <Poco/NumberParser.h>
#include <Poco/String.h>

#include "operate/command_line.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace exed::shovey {

namespace {

int get_int(const Poco::Util::AbstractConfiguration& c, const std::string& key, int def, int min,
            int max) {
    if (!c.hasProperty(key)) return def;
    std::string v = Poco::trim(c.getString(key));
    int n = 0;
    if (!Poco::NumberParser::tryParse(v, n) || n < min || n > max)
        throw ConfigError(fmt::format("{}: expected an integer in [{}, {}], got '{}'", key, min, max, v));
    return n;
}

}  // namespace

std::vector<std::string> split_command_line(const std::string& line) {
    // exed's one rule for command lines (shlex's, as execute's cmd): the
    // same text means the same argv here, in execute and on an agent.
    return operate::split_command_line(line);
}

Config load_config(const Settings& settings) {
    Config cfg;
    if (!settings.raw) return cfg;
    const auto& c = *settings.raw;
    cfg.run_timeout = get_int(c, "shovey.run_timeout", cfg.run_timeout, 1, 7 * 86400);
    cfg.status_interval = get_int(c, "shovey.status_interval", cfg.status_interval, 1, 86400);
    cfg.down_after = get_int(c, "shovey.down_after", cfg.down_after, 1, 1000);
    Poco::Util::AbstractConfiguration::Keys names;
    c.keys("shovey.commands", names);
    for (const auto& name : names) {
        std::string line = c.getString("shovey.commands." + name);
        std::vector<std::string> argv;
        try {
            argv = split_command_line(line);
        } catch (const std::invalid_argument& e) {
            throw ConfigError(fmt::format("shovey.commands.{}: cannot split '{}': {}", name, line, e.what()));
        }
        if (argv.empty()) throw ConfigError(fmt::format("shovey.commands.{}: empty command line", name));
        cfg.commands[name] = argv;
    }
    return cfg;
}

}  // namespace exed::shovey
