// The executor client of an exed process, as [plugins] isolation asks:
// "process" (the default) runs the plugins in a supervised plugin host
// process, "in_process" loads them into exed itself (for debugging, and
// the baseline of `make bench`).
#pragma once

#include "config.hpp"
#include "plugins/executor_client.hpp"
#include "plugins/registry.hpp"

#include <memory>

namespace exed::pluginhost {

// `registry` lists the plugins either way (loaded here, or mirrored from
// the host); it must outlive the client.
std::unique_ptr<plugins::ExecutorClient> make_executor_client(const Settings& settings,
                                                              plugins::Registry& registry);

}  // namespace exed::pluginhost
