// `facter` on the node: `facter --json` when it is installed, else native
// facts (hostname, os, kernel, arch, cpus, memory, addresses).
#pragma once

#include <Poco/JSON/Object.h>

namespace exed::agent {

Poco::JSON::Object::Ptr node_facts();

}  // namespace exed::agent
