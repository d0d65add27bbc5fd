// The [ansible] section of exe.conf, parsed once at init.
#pragma once

#include <string>

namespace exed::ansible {

struct Config {
    std::string workdir;           // cwd of every ansible run; default: the daemon's cwd
    std::string inventory;         // file or dir (INI/YAML), absolute after parsing
    std::string playbooks;         // dir holding roles/ (and group_vars/...)
    std::string sshkey;            // private key; empty: ssh's own default
    int forks = 10;                // hosts in parallel per run
    int timeout = 10;              // ssh connect timeout, seconds
    bool allow_connection_vars = false;  // may extra_vars set ansible_* keys?
    std::string python_interpreter;      // pin; empty: discover once, then cache
    bool pipelining = true;        // ANSIBLE_PIPELINING
    int control_persist = 60;      // seconds an idle ssh master stays up; 0 = off
    std::string run_dir;           // private state: control sockets, temp files
    std::string control_path_dir;  // default <run_dir>/cp
    std::string known_hosts;       // extra UserKnownHostsFile for ssh
    bool host_key_checking = true; // false only for throw-away test hosts
    std::string ssh_args;          // appended to exed's ssh args
    std::string callback_dir;      // holds exed_events.py; default next to the .so
    std::string module_dir;        // holds exed_exec.py, exed_facter.py
    int kill_grace = 3;            // seconds between SIGTERM and SIGKILL
    int inventory_timeout = 60;    // seconds ansible-inventory may take (dynamic inventories)
    bool gather_facts = true;      // deploy: gather facts before the role
    bool fork_server = true;       // start runs from a resident, pre-imported ansible
    std::string fork_server_script;  // exed_forkserver.py, next to the .so
};

// Parses the JSON object of strings handed to the plugin. Resolves relative
// paths against workdir, creates run_dir (mode 0700). `plugin_support_dir`
// is <dir of the .so>/ansible, where the build puts callback/ and modules/.
// Throws exed::Error on invalid values.
Config parse_config(const std::string& config_json, const std::string& plugin_support_dir);

}  // namespace exed::ansible
