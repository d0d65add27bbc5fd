// Jobs are signed by the API process that created them and verified by the
// worker before it runs anything, so a write into Redis alone (a forged
// record plus a queue entry) cannot make a worker run a command.
// HMAC-SHA256 with the shared [runner] job secret.
#pragma once

#include "jobs/model.hpp"

#include <string>

namespace exed::jobs {

// Over what decides what runs: jid, operation, arguments, targets, plugin.
std::string sign(const std::string& secret, const Job& job);
bool signature_valid(const std::string& secret, const Job& job);

// The secret from settings, or from <run_dir>/job.key, created (0600) with
// 32 random bytes on first use. Throws std::runtime_error when unreadable.
std::string load_or_create_secret(const std::string& configured, const std::string& run_dir);

}  // namespace exed::jobs
