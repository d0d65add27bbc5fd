// `exed token NAME --scopes read,run --targets 'web*,db1'`: prints a new
// random token (line 1) and its tokens-file line (line 2), which holds
// only the token's SHA-256. Nothing is written anywhere.
#pragma once

#include <string>

namespace exed::app {

// Returns the exit code (0, or 64 on bad arguments with one line on stderr).
int token_command(const std::string& name, const std::string& scopes, const std::string& targets);

}  // namespace exed::app
