// The one argv rule of `execute` (issue 24): a command string is split
// into words once, here in the operations core, and every executor gets the
// same argv. The rules are POSIX-mode Python shlex.split's, which is what
// ansible's command module (and our exed_exec module) always applied to a
// `cmd` string, so a command means on the agent and on salt what it meant on
// ansible. No shell runs, nothing is expanded or globbed. docs/api.md,
// "One argv rule".
#pragma once

#include <Poco/JSON/Object.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace exed::operate {

// Why a command string has no argv (an unterminated quote, a trailing
// backslash); the message says which and where.
class CommandLineError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Words separated by runs of blanks (space, tab, CR, LF); within a word
// 'single quotes' keep everything literally, "double quotes" keep
// everything but a backslash before " or \ (which stands for that
// character; before anything else the backslash stays), and outside quotes
// a backslash makes the next character literal. Quoted parts and plain
// characters join into one word; '' is an empty word. Throws
// CommandLineError for an unterminated quote or a trailing backslash.
std::vector<std::string> split_command_line(const std::string& line);

// For `execute`: adds "argv" (split from "cmd") beside the user's "cmd",
// which stays as the text the job shows. Throws DomainError(invalid) when
// cmd cannot be split or gives no command to run.
void add_execute_argv(Poco::JSON::Object::Ptr args);

}  // namespace exed::operate
