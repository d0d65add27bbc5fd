// [shovey] and [shovey.commands] of exe.conf. Only named commands run (as
// in Shovey's schob whitelist); each command line is split like a shell
// splits words (quotes, backslashes) and run as that argv, never by a shell.
#pragma once

#include "config.hpp"

#include <map>
#include <string>
#include <vector>

namespace exed::shovey {

struct Config {
    int run_timeout = 300;     // s, per node, for jobs that name none
    int status_interval = 30;  // s between node status checks through the executor
    int down_after = 2;        // missed checks before a node is down
    std::map<std::string, std::vector<std::string>> commands;  // name -> argv
};

// Throws ConfigError with one clear sentence.
Config load_config(const Settings& settings);

// exed's one rule for command lines (operate/command_line.hpp, shlex's):
// throws std::invalid_argument for an unterminated quote or a trailing
// backslash.
std::vector<std::string> split_command_line(const std::string& line);

}  // namespace exed::shovey
