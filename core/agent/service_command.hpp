// `service` on the node: systemctl (or service(8) without systemd) by argv,
// with the unit-name rule of the ansible executor (no options, no spaces).
#pragma once

#include <string>
#include <vector>

namespace exed::agent {

// action: start | stop | restart | reload. False with `why` when refused.
bool service_argv(const std::string& name, const std::string& action, std::vector<std::string>& argv,
                  std::string& why);

}  // namespace exed::agent
