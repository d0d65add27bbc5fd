// The arguments of each operation, checked and typed. The same parsers back
// check() (HTTP 400 before a job exists) and the operations themselves (a
// caller may skip check), so both refuse exactly the same input.
#pragma once

#include "salt_json.hpp"

#include <exed/sdk.h>

#include <string>
#include <vector>

namespace exed::salt {

struct ServiceArgs {
    std::vector<std::string> targets;
    std::string name;
    exed_service_state state = EXED_SERVICE_STARTED;
    bool graceful = false;
};

struct ExecuteArgs {
    std::vector<std::string> targets;
    Var command;  // a string (split by Salt with shlex, no shell) or an argv Array
};

struct DeployArgs {
    std::vector<std::string> targets;
    std::string sls;     // "role", or "role.partial" when partial is given
    Object::Ptr pillar;  // extra_vars, never null
};

std::string pattern_arg(const Object::Ptr& args);
std::vector<std::string> targets_arg(const Object::Ptr& args);
ServiceArgs service_args(const Object::Ptr& args);
ExecuteArgs execute_args(const Object::Ptr& args);
DeployArgs deploy_args(const Object::Ptr& args);

// Parses `args_json` the way operation `op` will; throws exed::BadInput.
void check_args(const std::string& op, const std::string& args_json);

}  // namespace exed::salt
