#include "integration/ansible_support.hpp"

#include <Poco/JSON/Stringifier.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

namespace exed::test {

bool facter_installed() { return fs::exists("/usr/bin/facter"); }

SshHosts& test_hosts() {
    static SshHosts hosts([] {
        SshHostsOptions o;
        o.groups = {{"web", {0, 1}}, {"db", {2}}};
        // Each host gets its own /etc/init.d: the system's scripts plus ours.
        o.prepare_host = [](int, const std::string& dir) {
            fs::create_directories(dir + "/initd");
            for (auto& e : fs::directory_iterator("/etc/init.d"))
                fs::copy(e.path(), dir + "/initd/" + e.path().filename().string(),
                         fs::copy_options::copy_symlinks);
            fs::copy(kFixtures + "/initd/exed-testsvc", dir + "/initd/exed-testsvc");
        };
        o.binds.push_back({-1, "initd", "/etc/init.d"});
        if (facter_installed()) o.binds.push_back({2, "/dev/null", "/usr/bin/facter"});
        return o;
    }());
    return hosts;
}

AnsiblePlugin::AnsiblePlugin(std::map<std::string, std::string> config) {
    Object section;
    for (auto& [k, v] : config) section.set(k, v);
    std::ostringstream json;
    Poco::JSON::Stringifier::condense(section, json);
    std::string text = json.str();
    registry_ = std::make_unique<plugins::Registry>(
        [text](const std::string& type) { return type == "ansible" ? text : std::string("{}"); });
    std::string so = std::string(EXED_BUILD_PLUGIN_DIR) + "/exed_ansible.so";
    if (!registry_->load_file(so)) {
        std::string why = registry_->refusals().empty() ? "?" : registry_->refusals()[0].reason;
        throw std::runtime_error("exed_ansible.so refused: " + why);
    }
    plugin_ = registry_->find("executor", "ansible");
    if (!plugin_) throw std::runtime_error("no executor of type ansible");
}

std::map<std::string, std::string> hosts_config(std::map<std::string, std::string> extra) {
    SshHosts& h = test_hosts();
    // A copy of the playbooks: deploy writes its generated playbook there.
    std::string playbooks = h.dir() + "/playbooks";
    if (!fs::exists(playbooks))
        fs::copy(kFixtures + "/playbooks", playbooks, fs::copy_options::recursive);
    std::map<std::string, std::string> c = {
        {"workdir", h.dir()},
        {"inventory", h.inventory_path()},
        {"playbooks", playbooks},
        {"sshkey", h.key_path()},
        {"known_hosts", h.known_hosts_path()},
        {"run_dir", h.dir() + "/run"},
        {"timeout", "5"},
        // fact gathering costs seconds per deploy here; the demo role needs none
        {"gather_facts", "false"},
    };
    for (auto& [k, v] : extra) c[k] = v;
    return c;
}

std::vector<std::string> event_hosts(const std::vector<std::string>& events) {
    std::vector<std::string> hosts;
    for (auto& e : events) {
        auto o = obj(e);
        std::vector<std::string> names;
        o->getNames(names);
        hosts.push_back(names.size() == 1 ? names[0] : "<" + e + ">");
    }
    return hosts;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

bool wait_until(const std::function<bool()>& cond, int seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < until) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cond();
}

}  // namespace exed::test
