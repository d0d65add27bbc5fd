#include "agent/service_command.hpp"

#include <Poco/RegularExpression.h>

#include <unistd.h>

namespace exed::agent {

bool service_argv(const std::string& name, const std::string& action, std::vector<std::string>& argv,
                  std::string& why) {
    static const Poco::RegularExpression unit_name(R"(^[A-Za-z0-9@._:-]+$)");
    if (name.empty() || name.size() > 255 || name[0] == '-' || !unit_name.match(name)) {
        why = "invalid service name '" + name + "'";
        return false;
    }
    if (action != "start" && action != "stop" && action != "restart" && action != "reload") {
        why = "invalid service action '" + action + "'";
        return false;
    }
    // systemd is running when /run/systemd/system exists (sd_booted's test).
    if (access("/run/systemd/system", F_OK) == 0)
        argv = {"systemctl", action, "--", name};
    else
        argv = {"service", name, action};
    return true;
}

}  // namespace exed::agent
