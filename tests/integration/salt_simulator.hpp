// Test support for the salt executor: runs tests/fixtures/salt_api_simulator.py
// (a SIMULATOR of salt-api, not Salt) as a child process on 127.0.0.1 and
// loads exed_salt.so pointed at it.
#pragma once

#include "plugins/registry.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <map>
#include <string>
#include <vector>
#include <sys/types.h>

namespace exed::test {

class SaltApiSimulator {
public:
    // `args` are extra command-line flags of the simulator.
    explicit SaltApiSimulator(const std::vector<std::string>& args);
    ~SaltApiSimulator();
    SaltApiSimulator(const SaltApiSimulator&) = delete;
    SaltApiSimulator& operator=(const SaltApiSimulator&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // Every request it received so far: [{"method","path","body"}].
    Poco::JSON::Array::Ptr requests() const;
    // Lowstate chunks POSTed to "/" (flattened), optionally of one client/fun.
    std::vector<Poco::JSON::Object::Ptr> lowstates(const std::string& client = "",
                                                   const std::string& fun = "") const;
    int count(const std::string& method, const std::string& path) const;
    // The simulator's jobs: {jid: {"fun", "minions", "running", "killed"}}.
    Poco::JSON::Object::Ptr jobs() const;
    // Makes salt-api forget every token, as a master restart does.
    void revoke_tokens() const;
    // Restarts the simulated salt-api only: its port is closed for `down_s`
    // seconds, then it listens again; the salt jobs run on meanwhile.
    void restart_api(double down_s) const;
    // Removes a minion's accepted key (salt-key -d).
    void delete_key(const std::string& minion) const;

private:
    std::string call(const std::string& method, const std::string& path) const;
    pid_t pid_ = -1;
    int port_ = 0;
    std::string dir_;
};

// A loaded exed_salt plugin whose config points at a simulator.
struct SaltPlugin {
    SaltPlugin(const std::string& api_url, std::map<std::string, std::string> overrides = {});
    plugins::Registry registry;
    plugins::PluginPtr plugin;  // null when refused (see registry.refusals())
};

}  // namespace exed::test
