// `exed node list|accept|reject|delete [NAME] -c exe.conf`: the operator's
// side of enrolment, like salt-key. It talks to exed's Redis directly (the
// registry is there), so it works whether or not exed's API is reachable.
#pragma once

#include <string>
#include <vector>

namespace exed::app {

// args: {"node", <verb>, [NAME]}. Returns the exit code.
int node_command(const std::vector<std::string>& args, const std::string& conf);

}  // namespace exed::app
