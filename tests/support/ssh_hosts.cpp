#include "support/ssh_hosts.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace fs = std::filesystem;

namespace exed::test {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& text, mode_t mode = 0644) {
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
}

std::string mnt_ns_of(pid_t pid) {
    std::error_code ec;
    auto target = fs::read_symlink(fmt::format("/proc/{}/ns/mnt", pid), ec);
    return ec ? std::string() : target.string();
}

// One TCP socket to addr:port, bound (listen side) or connected (client
// side); whether that worked.
bool tcp_to(const std::string& addr, int port, bool connect_to_it) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(uint16_t(port));
    inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    auto* a = reinterpret_cast<sockaddr*>(&sa);
    bool ok = (connect_to_it ? connect(fd, a, sizeof sa) : bind(fd, a, sizeof sa)) == 0;
    close(fd);
    return ok;
}

bool can_bind(const std::string& addr, int port) { return tcp_to(addr, port, false); }
bool accepts(const std::string& addr, int port) { return tcp_to(addr, port, true); }

// A port free on every host address (one port for all: the inventory
// stays simple). Ports are taken from 20000 + pid-derived offset so that
// suites running in parallel rarely collide; each candidate is checked.
int pick_port(const std::vector<std::string>& addrs) {
    int base = 20000 + int(getpid() % 20000);
    for (int k = 0; k < 2000; ++k) {
        int port = 20000 + (base - 20000 + k * 7) % 40000;
        bool free = true;
        for (auto& a : addrs) free = free && can_bind(a, port);
        if (free) return port;
    }
    throw std::runtime_error("ssh_hosts: no free port on the test addresses");
}

}  // namespace

int run_command(const std::vector<std::string>& argv, std::string* out) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    }
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (out) *out = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

SshHosts::SshHosts(SshHostsOptions options) : options_(std::move(options)) {
    char templ[] = "/tmp/exed-sshhosts-XXXXXX";
    if (!mkdtemp(templ)) throw std::runtime_error("ssh_hosts: mkdtemp failed");
    dir_ = templ;
    chmod(dir_.c_str(), 0755);
    hosts_.resize(size_t(options_.count));
    try {
        fs::create_directories("/run/sshd");  // sshd's privilege separation dir
        std::vector<std::string> addrs;
        for (int i = 0; i < size(); ++i) addrs.push_back(address(i));
        port_ = pick_port(addrs);
        write_files();
        for (int i = 0; i < size(); ++i) start(i);
    } catch (...) {
        for (int i = 0; i < size(); ++i) stop(i);
        fs::remove_all(dir_);
        throw;
    }
}

SshHosts::~SshHosts() {
    for (int i = 0; i < size(); ++i) stop(i);
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

std::string SshHosts::name(int i) const { return fmt::format("node{}", i + 1); }
std::string SshHosts::address(int i) const {
    return fmt::format("127.0.0.{}", options_.first_octet + i);
}
std::string SshHosts::host_dir(int i) const { return fmt::format("{}/{}", dir_, name(i)); }
std::string SshHosts::srv_dir(int i) const { return host_dir(i) + "/srv"; }

void SshHosts::write_files() {
    host_key_ = dir_ + "/ssh_host_ed25519_key";
    client_key_ = dir_ + "/client_ed25519_key";
    known_hosts_ = dir_ + "/known_hosts";
    inventory_ = dir_ + "/inventory.ini";
    std::string out;
    for (auto& key : {host_key_, client_key_})
        if (run_command({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "exed-test", "-f",
                         key},
                        &out) != 0)
            throw std::runtime_error("ssh-keygen failed: " + out);
    fs::copy_file(client_key_ + ".pub", dir_ + "/authorized_keys");

    std::istringstream pub(read_file(host_key_ + ".pub"));
    std::string type, blob;
    pub >> type >> blob;
    std::string known, inventory, nodes = "\n[nodes]\n";
    for (int i = 0; i < size(); ++i) {
        known += fmt::format("[{}]:{} {} {}\n", address(i), port_, type, blob);
        inventory += fmt::format("{} ansible_host={} ansible_port={} ansible_user=root\n",
                                 name(i), address(i), port_);
        nodes += name(i) + "\n";
    }
    inventory += nodes;
    for (auto& [group, members] : options_.groups) {
        inventory += fmt::format("\n[{}]\n", group);
        for (int m : members) inventory += name(m) + "\n";
    }
    write_file(known_hosts_, known);
    write_file(dir_ + "/empty_bashrc", "");
    write_file(inventory_, inventory);

    for (int i = 0; i < size(); ++i) {
        fs::create_directories(srv_dir(i));
        write_sshd_config(i);
        if (options_.prepare_host) options_.prepare_host(i, host_dir(i));
    }
}

void SshHosts::write_sshd_config(int i) const {
    std::string hd = host_dir(i);
    write_file(hd + "/sshd_config",
               fmt::format("Port {port}\n"
                           "ListenAddress {addr}\n"
                           "HostKey {hostkey}\n"
                           "PidFile {hd}/sshd.pid\n"
                           "AuthorizedKeysFile {dir}/authorized_keys\n"
                           "PermitRootLogin prohibit-password\n"
                           "PasswordAuthentication no\n"
                           "KbdInteractiveAuthentication no\n"
                           "UsePAM no\n"
                           // the keys live under /tmp, which is world-writable
                           "StrictModes no\n"
                           "UseDNS no\n"
                           "PrintMotd no\n"
                           "MaxSessions 100\n"
                           "MaxStartups 100\n"
                           "Subsystem sftp internal-sftp\n"
                           "LogLevel ERROR\n",
                           fmt::arg("port", port_), fmt::arg("addr", address(i)),
                           fmt::arg("hostkey", host_key_), fmt::arg("hd", hd),
                           fmt::arg("dir", dir_)));
}

void SshHosts::start(int i) {
    if (running(i)) return;
    // Everything the child needs is prepared before fork(): after it, only
    // system calls (this process may have threads).
    std::string hd = host_dir(i), config = hd + "/sshd_config", log = hd + "/sshd.log";
    std::vector<std::pair<std::string, std::string>> binds = {{srv_dir(i), "/srv"}};
    if (options_.clean_root_bashrc && fs::exists("/root/.bashrc"))
        binds.emplace_back(dir_ + "/empty_bashrc", "/root/.bashrc");
    for (auto& b : options_.binds)
        if (b.host < 0 || b.host == i)
            binds.emplace_back(fs::path(b.source).is_absolute() ? b.source : hd + "/" + b.source,
                               b.target);
    std::string self_ns = mnt_ns_of(getpid());

    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        setsid();
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            perror("ssh_hosts: mount namespace");
            _exit(126);
        }
        for (auto& [source, target] : binds)
            if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
                perror(("ssh_hosts: bind " + source + " " + target).c_str());
                _exit(126);
            }
        // sshd re-executes itself per connection: argv[0] must be absolute
        execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", config.c_str(), (char*)nullptr);
        perror("ssh_hosts: exec /usr/sbin/sshd");
        _exit(127);
    }
    hosts_[size_t(i)].pid = pid;
    // Learn the namespace once the child has left ours (stop() needs it).
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string ns;
    while (std::chrono::steady_clock::now() < until) {
        ns = mnt_ns_of(pid);
        if (!ns.empty() && ns != self_ns) break;
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            hosts_[size_t(i)].pid = -1;
            throw std::runtime_error("sshd for " + name(i) + " died: " + read_file(log));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    hosts_[size_t(i)].mnt_ns = ns;
    wait_for_port(i);
}

void SshHosts::wait_for_port(int i) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < until) {
        if (accepts(address(i), port_)) return;
        int status = 0;
        if (waitpid(hosts_[size_t(i)].pid, &status, WNOHANG) == hosts_[size_t(i)].pid) {
            hosts_[size_t(i)].pid = -1;
            throw std::runtime_error("sshd for " + name(i) + " exited: " +
                                     read_file(host_dir(i) + "/sshd.log"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error(fmt::format("sshd for {} does not accept on {}:{}", name(i),
                                         address(i), port_));
}

void SshHosts::stop(int i) {
    HostProc& h = hosts_[size_t(i)];
    if (h.pid <= 0) return;
    // Every process in the host's mount namespace: the listener, its
    // per-connection children (they setsid, so no process group covers
    // them) and whatever sessions started.
    for (int round = 0; round < 50; ++round) {
        int found = 0;
        for (auto& entry : fs::directory_iterator("/proc")) {
            std::string pid_text = entry.path().filename().string();
            if (pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
            pid_t pid = std::stoi(pid_text);
            if (!h.mnt_ns.empty() && mnt_ns_of(pid) == h.mnt_ns && kill(pid, SIGKILL) == 0) ++found;
        }
        int status = 0;
        waitpid(h.pid, &status, WNOHANG);
        if (found == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    int status = 0;
    waitpid(h.pid, &status, 0);
    h.pid = -1;
    h.mnt_ns.clear();
}

}  // namespace exed::test
