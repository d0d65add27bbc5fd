// `exed agent -c agent.conf`: the node-side agent (docs/agent.md).
#pragma once

namespace exed::agent {

// argv as given to exed ("exed agent -c FILE"); returns the exit code.
int agent_main(int argc, char** argv);

}  // namespace exed::agent
