// `exed plugin-host --conf exe.conf --parent <pid>`: the process that runs
// exed's plugins (hidden: exed starts it, see host_process.hpp). It loads
// them with the Registry, says what it loaded, and serves calls on fd 3 (a
// unix socket shared with its exed) until that socket closes.
#pragma once

namespace exed::pluginhost {

// The fd the host is given its socket on.
constexpr int kHostFd = 3;

int host_main(int argc, char** argv);

}  // namespace exed::pluginhost
