// exectl's command line: `exectl [OPTIONS] COMMAND [ARGS] [-- ARGV...]`,
// each command with its own options and --help.
#pragma once

#include "catalogue.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace exectl {

struct CommandSpec {
    std::string name;
    std::string usage;    // after "exectl NAME"
    std::string summary;  // one line
    std::vector<std::string> options;  // long names this command accepts (besides the globals)
    size_t min_args = 0, max_args = 0;  // positional arguments
    bool takes_argv = false;           // everything after "--" is passed on as given
    // The API operation this command runs (POST /<name>), or null. Its
    // positional arguments after HOSTS are the operation's required args in
    // catalogue order, its options the optional ones ("extra_vars" is
    // --extra-vars).
    const exed::catalogue::Operation* operation = nullptr;
};

// The option of an operation's optional argument: "extra_vars" -> "extra-vars".
std::string option_of(const std::string& arg_name);

const std::vector<CommandSpec>& commands();
const CommandSpec* find_command(const std::string& name);
// Options that take a value (the rest are flags).
bool option_takes_value(const std::string& name);
std::string option_help(const std::string& name);

struct Args {
    const CommandSpec* command = nullptr;  // null: no command (global --help)
    std::vector<std::string> positional;
    std::vector<std::string> argv;         // after "--" (execute)
    bool saw_separator = false;
    std::map<std::string, std::string> options;  // long name -> value ("" for a flag)
    bool help = false;

    bool has(const std::string& o) const { return options.count(o) > 0; }
    std::string get(const std::string& o, const std::string& dflt = "") const {
        auto it = options.find(o);
        return it == options.end() ? dflt : it->second;
    }
};

// Throws UsageError for an unknown command or option, a missing value, or
// the wrong number of arguments.
Args parse_args(const std::vector<std::string>& raw);

std::string global_help();
std::string command_help(const CommandSpec& c);

}  // namespace exectl
