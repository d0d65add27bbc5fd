// Real test hosts: N OpenSSH servers on 127.0.0.11, 127.0.0.12, ... (only
// loopback), each in a mount namespace of its own so that what one "host"
// writes under /srv (or any extra bind target) the others do not see.
//
// Throw-away keys (ssh-keygen, ed25519): one host key, one client key
// authorised for root. Writes an INI inventory and a known_hosts file, so
// ansible can connect with host key checking left on.
//
//   exed::test::SshHosts hosts;               // 3 hosts, started
//   hosts.inventory_path(); hosts.key_path(); hosts.known_hosts_path();
//   hosts.stop(1);                            // node2 is now really unreachable
//   hosts.start(1);
//
// stop(i) kills every process of that host's mount namespace (the listener,
// open sessions, daemons started over ssh), so an ssh master kept alive by
// ControlPersist cannot keep a stopped host reachable.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace exed::test {

struct SshHostsOptions {
    int count = 3;
    int first_octet = 11;  // host i listens on 127.0.0.<first_octet + i>
    // Extra inventory groups: name -> host indexes (0-based). Every host is
    // also in group "nodes".
    std::map<std::string, std::vector<int>> groups;
    // Extra bind mounts inside a host's namespace. host -1 = every host;
    // a relative source is taken under that host's host_dir().
    struct Bind {
        int host = -1;
        std::string source;
        std::string target;
    };
    std::vector<Bind> binds;
    // Called once per host before its sshd first starts, e.g. to fill a
    // bind source under host_dir(i).
    std::function<void(int index, const std::string& host_dir)> prepare_host;
    // Hide this machine's /root/.bashrc from the hosts (an empty file over
    // it): Debian's bash sources it for every ssh command, and a developer's
    // rc (pyenv init, ...) would add a second to each round trip.
    bool clean_root_bashrc = true;
};

class SshHosts {
public:
    explicit SshHosts(SshHostsOptions options = {});
    ~SshHosts();
    SshHosts(const SshHosts&) = delete;
    SshHosts& operator=(const SshHosts&) = delete;

    int size() const { return options_.count; }
    std::string name(int i) const;     // "node1", "node2", ...
    std::string address(int i) const;  // "127.0.0.11", ...
    int port() const { return port_; }

    const std::string& dir() const { return dir_; }  // removed by the destructor
    std::string host_dir(int i) const;
    std::string srv_dir(int i) const;  // what host i sees as /srv
    const std::string& inventory_path() const { return inventory_; }
    const std::string& key_path() const { return client_key_; }
    const std::string& known_hosts_path() const { return known_hosts_; }

    void start(int i);  // returns once the port accepts connections
    void stop(int i);
    bool running(int i) const { return hosts_[size_t(i)].pid > 0; }

private:
    struct HostProc {
        pid_t pid = -1;
        std::string mnt_ns;  // /proc/<pid>/ns/mnt of the sshd
    };
    void write_files();
    void write_sshd_config(int i) const;
    void wait_for_port(int i);

    SshHostsOptions options_;
    std::string dir_, inventory_, client_key_, known_hosts_, host_key_;
    int port_ = 0;
    std::vector<HostProc> hosts_;
};

// Runs argv (no shell), waits; returns the exit code, output in `out`.
int run_command(const std::vector<std::string>& argv, std::string* out = nullptr);

}  // namespace exed::test
