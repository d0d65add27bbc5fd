// Shared by the ansible executor test files: the test hosts, the plugin
// loaded from the build tree like the daemon loads it, and JSON helpers.
#pragma once

#include "plugins/registry.hpp"
#include "support/recording_hooks.hpp"
#include "support/ssh_hosts.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace exed::test {

using Poco::JSON::Array;
using Poco::JSON::Object;

inline Object::Ptr obj(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}
inline Array::Ptr arr(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Array::Ptr>();
}

// Hooks with a run_timeout deadline (seconds since the epoch).
struct DeadlineHooks : RecordingHooks {
    int64_t at = 0;
    int64_t deadline() override { return at; }
};

const std::string kFixtures = std::string(EXED_SOURCE_DIR) + "/tests/fixtures/ansible";

// The test hosts of this process, started on first use: node1..node3 with
// the exed-testsvc init script in their /etc/init.d and, where facter is
// installed, facter hidden on node3 (so facter shows both sources).
SshHosts& test_hosts();
bool facter_installed();

// exed_ansible.so from the build tree with the given [ansible] section.
class AnsiblePlugin {
public:
    explicit AnsiblePlugin(std::map<std::string, std::string> config);
    plugins::OpResult run(const std::string& op, const std::string& args,
                          plugins::CallHooks& hooks) const {
        return plugin_->invoke(op, args, hooks);
    }
    plugins::OpResult check(const std::string& op, const std::string& args) const {
        return plugin_->check(op, args);
    }

private:
    std::unique_ptr<plugins::Registry> registry_;
    plugins::PluginPtr plugin_;
};

// The config for test_hosts(), with `extra` keys on top.
std::map<std::string, std::string> hosts_config(std::map<std::string, std::string> extra = {});

// Each event is {host: body}; returns the hosts in arrival order.
std::vector<std::string> event_hosts(const std::vector<std::string>& events);

// The whole file ("" when it cannot be read).
std::string slurp(const std::string& path);

// Polls `cond` every 20 ms for up to `seconds`; its last answer.
bool wait_until(const std::function<bool()>& cond, int seconds);

}  // namespace exed::test
