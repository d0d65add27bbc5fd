#include "app/node_command.hpp"

#include "app/node_setup.hpp"
#include "config.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Environment.h>
#include <Poco/Timestamp.h>

#include <fmt/format.h>

#include <iostream>

namespace exed::app {

namespace {

constexpr int kExitUsage = 64, kExitNoName = 1, kExitUnavailable = 69, kExitConfig = 78;

std::string when(int64_t unix_s) {
    if (unix_s <= 0) return "-";
    return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(time_t(unix_s)),
                                           Poco::DateTimeFormat::ISO8601_FORMAT);
}

int usage() {
    std::cerr << "usage: exed node list -c exe.conf\n"
                 "       exed node accept|reject|delete NAME -c exe.conf\n";
    return kExitUsage;
}

}  // namespace

int node_command(const std::vector<std::string>& args, const std::string& conf) {
    if (args.size() < 2) return usage();
    const std::string& verb = args[1];
    bool list = verb == "list";
    if (list ? args.size() != 2 : (args.size() != 3 || (verb != "accept" && verb != "reject" && verb != "delete")))
        return usage();
    std::string name = list ? "" : args[2];
    if (!list && !nodes::valid_node_name(name)) {
        std::cerr << "exed node: bad node name '" << name << "'\n";
        return kExitUsage;
    }
    std::unique_ptr<NodeRegistryHost> host;
    try {
        Settings settings = load_settings(conf.empty() ? "exe.conf" : conf);
        host = node_registry_host(settings, nullptr, false);
    } catch (const ConfigError& e) {
        std::cerr << "exed node: " << e.what() << "\n";
        return kExitConfig;
    } catch (const std::exception& e) {
        std::cerr << "exed node: " << e.what() << "\n";
        return kExitConfig;
    }
    try {
        auto& reg = *host->registry;
        if (list) {
            auto records = reg.list();
            std::cout << fmt::format("{:<32} {:<9} {:<51} {:<20} {}\n", "NAME", "STATE", "FINGERPRINT",
                                     "FIRST_SEEN", "LAST_SEEN");
            for (auto& r : records)
                std::cout << fmt::format("{:<32} {:<9} {:<51} {:<20} {}\n", r.name, r.state, r.fingerprint,
                                         when(r.first_seen), when(r.last_seen));
            return 0;
        }
        bool found = verb == "delete" ? reg.remove(name) : reg.set_state(name, verb == "accept" ? "accepted" : "rejected");
        std::string who = "cli:" + Poco::Environment::get("USER", "?");
        host->record(who, "local", "node " + verb, name, found ? 200 : 404);
        if (!found) {
            std::cerr << "exed node: no node '" << name << "' (exed node list shows them)\n";
            return kExitNoName;
        }
        std::cout << fmt::format("node {} {}\n", name,
                                 verb == "accept" ? "accepted" : verb == "reject" ? "rejected" : "deleted");
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "exed node: cannot reach exed's Redis: " << e.what() << "\n";
        return kExitUnavailable;
    }
}

}  // namespace exed::app
