// The commands of the agent protocol, the one list both ends read: the
// agent executor signs them, `exed agent` (core/agent) runs them. Three
// are exed operations run on the node and keep the operation's name
// (sdk.h); "exec" runs an argv (the execute operation). Renaming one
// breaks every agent already deployed: these are wire values.
#pragma once

#include <exed/sdk.h>

namespace exed::agent_wire {

constexpr const char* kFacter = EXED_OP_FACTER;    // the node's facts, read by the agent
constexpr const char* kService = EXED_OP_SERVICE;  // argv [name, action]
constexpr const char* kDeploy = EXED_OP_DEPLOY;    // refused: the agent applies no roles
constexpr const char* kExec = "exec";              // argv as given (allow_exec) or one named command
// The ping operation's frame ({"type":"ping"}): the agent answers "pong"
// from the connection, nothing runs.
constexpr const char* kPing = EXED_OP_PING;

}  // namespace exed::agent_wire
