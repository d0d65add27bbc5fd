// The arguments of each operation, parsed and validated. check() and the
// operations use the same functions, so a job never runs input that check
// would refuse. Errors are exed::BadInput (HTTP 400) or exed::NotFound (404).
#pragma once

#include "config.hpp"
#include "json_util.hpp"

#include <exed/sdk.h>

#include <string>
#include <vector>

namespace exed::ansible {

// "targets": a non-empty array of host names (a single string is one host).
std::vector<std::string> targets_arg(const Object::Ptr& args);

// "pattern": a string; "*" when absent.
std::string pattern_arg(const Object::Ptr& args);

struct ServiceArgs {
    std::string name;
    exed_service_state state = EXED_SERVICE_STARTED;
    bool graceful = false;
    std::string ansible_state() const;  // started|stopped|restarted|reloaded
};
ServiceArgs service_args(const Object::Ptr& args);

struct ExecuteArgs {
    bool has_argv = false;
    std::string cmd;                // when !has_argv: split shell-like remotely
    std::vector<std::string> argv;  // when has_argv: run exactly
};
ExecuteArgs execute_args(const Object::Ptr& args);

struct DeployArgs {
    std::string role;
    std::string partial;     // a tag of the role, or empty for all tasks
    Object::Ptr extra_vars;  // never null
};
// Also checks the role directory exists and, when given, that the tag
// appears in the role's tasks.
DeployArgs deploy_args(const Object::Ptr& args, const Config& config);

}  // namespace exed::ansible
