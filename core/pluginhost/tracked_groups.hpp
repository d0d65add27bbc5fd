// The process groups of every run in the plugin host, for its SIGTERM
// handler: SIGTERM is the death signal the host asks for (exed died, even
// of kill -9), or someone ending the host; either way nobody is left to end
// the commands its plugins started, and they must not run on after the
// job's lease frees its host locks (issue 23). The handler SIGKILLs every
// group here, then exits.
#pragma once

#include <sys/types.h>

namespace exed::pluginhost {

void remember_group(pid_t pgid);
void forget_group(pid_t pgid);
// Installs the SIGTERM handler (async-signal-safe: kill() and _exit()).
void end_groups_on_sigterm();

}  // namespace exed::pluginhost
