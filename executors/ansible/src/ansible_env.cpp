#include "ansible_env.hpp"

#include <Poco/String.h>
#include <fmt/format.h>

#include <sstream>
#include <vector>

namespace exed::ansible {

std::map<std::string, std::string> ansible_env(const Config& c) {
    std::map<std::string, std::string> env;
    env["ANSIBLE_NOCOLOR"] = "1";
    env["ANSIBLE_FORCE_COLOR"] = "0";
    env["PYTHONUNBUFFERED"] = "1";
    env["ANSIBLE_RETRY_FILES_ENABLED"] = "False";
    env["ANSIBLE_LOCAL_TEMP"] = c.run_dir + "/tmp";
    // A broken inventory is an error with a message, not an empty inventory.
    env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "True";
    env["ANSIBLE_FORKS"] = std::to_string(c.forks);
    env["ANSIBLE_TIMEOUT"] = std::to_string(c.timeout);
    env["ANSIBLE_PIPELINING"] = c.pipelining ? "True" : "False";

    // Keep one ssh master per host alive between jobs: later jobs skip the
    // ssh handshake. Sockets live in our private run dir.
    std::string ssh = c.control_persist > 0
                          ? fmt::format("-o ControlMaster=auto -o ControlPersist={}s",
                                        c.control_persist)
                          : std::string("-o ControlMaster=no");
    if (!c.known_hosts.empty()) ssh += " -o UserKnownHostsFile=" + c.known_hosts;
    if (!c.ssh_args.empty()) ssh += " " + c.ssh_args;
    env["ANSIBLE_SSH_ARGS"] = ssh;
    env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = c.control_path_dir;
    if (!c.sshkey.empty()) env["ANSIBLE_PRIVATE_KEY_FILE"] = c.sshkey;
    // Safe default: ansible checks host keys. Only an explicit
    // host_key_checking = false (throw-away hosts) turns it off.
    if (!c.host_key_checking) env["ANSIBLE_HOST_KEY_CHECKING"] = "False";
    // Unset: ansible discovers it (or ansible.cfg pins it); the runner then
    // reuses what was discovered.
    if (!c.python_interpreter.empty()) env["ANSIBLE_PYTHON_INTERPRETER"] = c.python_interpreter;

    // Our modules (exed_exec, exed_facter) and the project's roles. The same
    // for every kind of run: the fork server's ansible reads plugin paths
    // once, at import.
    env["ANSIBLE_LIBRARY"] = c.module_dir;
    env["ANSIBLE_ROLES_PATH"] = c.playbooks + "/roles";

    // Our stdout callback prints one JSON line per host result.
    env["ANSIBLE_STDOUT_CALLBACK"] = "exed_events";
    env["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1";
    env["ANSIBLE_CALLBACK_PLUGINS"] = c.callback_dir;
    return env;
}

std::string ansible_error_text(const std::string& stderr_text) {
    std::vector<std::string> lines;
    std::istringstream in(stderr_text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);

    std::string error;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].rfind("ERROR!", 0) != 0) continue;
        error = lines[i];
        for (size_t j = i + 1; j < lines.size(); ++j) {
            const std::string& l = lines[j];
            if (Poco::trim(l).empty() || l.rfind("Traceback", 0) == 0 ||
                l.find("the full traceback was") != std::string::npos)
                break;
            error += "\n" + l;
        }
    }
    if (error.empty()) {  // no ERROR! line: the last few meaningful lines
        std::vector<std::string> tail;
        for (auto it = lines.rbegin(); it != lines.rend() && tail.size() < 5; ++it) {
            std::string l = Poco::trim(*it);
            if (l.empty() || l.rfind("[WARNING]", 0) == 0 || l.rfind("File \"", 0) == 0) continue;
            tail.insert(tail.begin(), l);
        }
        for (auto& l : tail) error += (error.empty() ? "" : "\n") + l;
    }
    if (error.size() > 4000) error = error.substr(0, 4000) + "...";
    return error.empty() ? "ansible failed without a message" : error;
}

}  // namespace exed::ansible
