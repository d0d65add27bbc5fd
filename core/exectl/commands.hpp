// The commands of exectl, each one request (or a submit and a follow) to exed.
#pragma once

#include "exectl/args.hpp"
#include "exectl/client.hpp"
#include "exectl/terminal.hpp"

#include <Poco/JSON/Object.h>

#include <initializer_list>
#include <stdexcept>

namespace exectl {

// Exit 1: a host failed or was unreachable, or the job failed/was cancelled.
struct JobFailed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Runs the parsed command; returns the exit code (0 or 1), throws
// UsageError (2) or Unreachable (3).
int run_command(const Args& args, Client& client, const Term& term);

// `exectl shovey ...`: the Shovey face (core/exectl/shovey.cpp).
int shovey_command(const Args& args, Client& client, const Term& term);

// Shared by the commands: compact JSON text, a URL path segment or query
// value encoded, an error answer as the exception of its exit code, and the
// answer's JSON object.
std::string to_json(const Poco::Dynamic::Var& v);
std::string enc(const std::string& s);
[[noreturn]] void refuse(const Answer& a);
Answer expect(Answer a, std::initializer_list<int> ok);
Poco::JSON::Object::Ptr object_of(const Answer& a);

// ARGV as one string that a shell-like split (Python shlex, as exed's
// executors split `cmd`) turns back into exactly ARGV.
std::string quote_argv(const std::vector<std::string>& argv);

}  // namespace exectl
