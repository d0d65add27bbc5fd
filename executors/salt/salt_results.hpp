// Turns what a minion returned into exed's per-host result shapes
// (docs/salt.md lists them). Pure functions: no I/O.
#pragma once

#include "salt_job_runner.hpp"

#include <exed/sdk.h>

#include <vector>

namespace exed::salt {

// exed's per-host operate states.
// The SDK's per-host statuses (exed/sdk.h), under this plugin's names.
enum HostStatus {
    OK = EXED_HOST_OK,
    Skipped = EXED_HOST_SKIPPED,
    Failed = EXED_HOST_FAILED,
    Unreachable = EXED_HOST_UNREACHABLE,
    Changed = EXED_HOST_CHANGED
};

Object::Ptr status_result(int status);
Object::Ptr error_result(int status, const std::string& error);
// {"status": 3, "error"} for a minion that gave no return.
Object::Ptr unreachable_result(const MinionOutcome& o);

// Salt reports a failing function with a string (or a list of strings)
// where the structure was expected: its text, or "" when `v` is no error.
// The execution context Salt puts in "Unable to run command" is dropped.
std::string salt_error_text(const Var& v);

Object::Ptr ping_result(const MinionOutcome& o);
// Adds "state" (the spec's key for facter) next to "status".
Object::Ptr facter_result(const MinionOutcome& o);
Object::Ptr execute_result(const MinionOutcome& o);

// state.apply on one minion: an event per state, in execution order, and a
// summary whose status is Failed if any state failed, else Changed if any
// changed, else OK.
struct StateApplyResult {
    std::vector<Object::Ptr> states;  // {"status", "name", "return_data"}
    Object::Ptr summary;
};
StateApplyResult state_apply_result(const MinionOutcome& o);

}  // namespace exed::salt
