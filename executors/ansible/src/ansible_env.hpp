// The environment every ansible process of exed runs with, and how to turn
// ansible's stderr into a one-paragraph error message.
#pragma once

#include "config.hpp"

#include <map>
#include <string>

namespace exed::ansible {

// Settings from the config, as ANSIBLE_* variables (they override ansible.cfg
// in the workdir; everything else there still applies). See docs/ansible.md.
std::map<std::string, std::string> ansible_env(const Config& config);

// The "ERROR! ..." paragraph of ansible's stderr (never a Python traceback),
// or its last lines when there is none.
std::string ansible_error_text(const std::string& stderr_text);

}  // namespace exed::ansible
