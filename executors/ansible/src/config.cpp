#include "config.hpp"

#include "json_util.hpp"

#include <exed/sdk.hpp>

#include <Poco/NumberParser.h>
#include <Poco/String.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace exed::ansible {
namespace {

std::string get(const Object::Ptr& cfg, const std::string& key, const std::string& dflt) {
    if (!cfg->has(key) || cfg->isNull(key)) return dflt;
    return cfg->get(key).convert<std::string>();
}

int get_int(const Object::Ptr& cfg, const std::string& key, int dflt, int min, int max) {
    std::string text = Poco::trim(get(cfg, key, std::to_string(dflt)));
    int value = 0;
    if (!Poco::NumberParser::tryParse(text, value) || value < min || value > max)
        throw exed::Error(fmt::format("[ansible] {} must be an integer in {}..{}, got '{}'", key,
                                      min, max, text));
    return value;
}

bool get_bool(const Object::Ptr& cfg, const std::string& key, bool dflt) {
    std::string text = Poco::toLower(Poco::trim(get(cfg, key, dflt ? "true" : "false")));
    if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
    if (text == "0" || text == "false" || text == "no" || text == "off") return false;
    throw exed::Error(fmt::format("[ansible] {} must be true or false, got '{}'", key, text));
}

std::string absolute(const std::string& base, const std::string& path) {
    if (path.empty()) return path;
    return fs::path(path).is_absolute() ? path : (fs::path(base) / path).lexically_normal().string();
}

// A private directory: created 0700 if missing; refused if it is a symlink,
// not ours or open to others (it holds ssh control sockets).
void ensure_private_dir(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    struct stat st{};
    if (lstat(dir.c_str(), &st) != 0)
        throw exed::Error(fmt::format("cannot create run dir {}: {}", dir, std::strerror(errno)));
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        throw exed::Error(fmt::format("run dir {} is not a directory owned by us", dir));
    if ((st.st_mode & 077) != 0 && chmod(dir.c_str(), 0700) != 0)
        throw exed::Error(fmt::format("cannot chmod 0700 {}", dir));
}

std::string default_run_dir() {
    const char* tmp = getenv("TMPDIR");
    return fmt::format("{}/exed-ansible-{}", tmp && *tmp ? tmp : "/tmp", geteuid());
}

}  // namespace

Config parse_config(const std::string& config_json, const std::string& plugin_support_dir) {
    Object::Ptr cfg = parse_object(config_json.empty() ? "{}" : config_json, "[ansible] config");
    Config c;
    c.workdir = get(cfg, "workdir", "");
    if (c.workdir.empty()) c.workdir = fs::current_path().string();
    c.workdir = fs::absolute(c.workdir).lexically_normal().string();
    c.inventory = absolute(c.workdir, get(cfg, "inventory", "inventory"));
    c.playbooks = absolute(c.workdir, get(cfg, "playbooks", "playbooks"));
    c.sshkey = absolute(c.workdir, get(cfg, "sshkey", ""));
    c.forks = get_int(cfg, "forks", 10, 1, 1000);
    c.timeout = get_int(cfg, "timeout", 10, 1, 3600);
    c.allow_connection_vars = get_bool(cfg, "allow_connection_vars", false);
    c.python_interpreter = get(cfg, "python_interpreter", "");
    c.pipelining = get_bool(cfg, "pipelining", true);
    c.control_persist = get_int(cfg, "control_persist", 60, 0, 86400);
    c.run_dir = absolute(c.workdir, get(cfg, "run_dir", default_run_dir()));
    c.control_path_dir = absolute(c.workdir, get(cfg, "control_path_dir", c.run_dir + "/cp"));
    c.known_hosts = absolute(c.workdir, get(cfg, "known_hosts", ""));
    c.host_key_checking = get_bool(cfg, "host_key_checking", true);
    c.ssh_args = get(cfg, "ssh_args", "");
    c.callback_dir = absolute(c.workdir, get(cfg, "callback_dir", plugin_support_dir + "/callback"));
    c.module_dir = absolute(c.workdir, get(cfg, "module_dir", plugin_support_dir + "/modules"));
    c.kill_grace = get_int(cfg, "kill_grace", 3, 0, 600);
    c.inventory_timeout = get_int(cfg, "inventory_timeout", 60, 1, 3600);
    c.gather_facts = get_bool(cfg, "gather_facts", true);
    c.fork_server = get_bool(cfg, "fork_server", true);
    c.fork_server_script = plugin_support_dir + "/forkserver/exed_forkserver.py";

    if (!fs::exists(c.inventory))
        throw exed::Error(fmt::format("[ansible] inventory {} does not exist", c.inventory));
    if (!fs::exists(fs::path(c.callback_dir) / "exed_events.py"))
        throw exed::Error(fmt::format("[ansible] callback_dir {} has no exed_events.py",
                                      c.callback_dir));
    if (!fs::exists(fs::path(c.module_dir) / "exed_exec.py"))
        throw exed::Error(fmt::format("[ansible] module_dir {} has no exed_exec.py", c.module_dir));
    if (c.fork_server && !fs::exists(c.fork_server_script))
        throw exed::Error(fmt::format("[ansible] fork_server is on but {} is missing",
                                      c.fork_server_script));
    if (!c.sshkey.empty() && !fs::exists(c.sshkey))
        throw exed::Error(fmt::format("[ansible] sshkey {} does not exist", c.sshkey));
    ensure_private_dir(c.run_dir);
    ensure_private_dir(c.control_path_dir);
    ensure_private_dir(c.run_dir + "/tmp");
    return c;
}

}  // namespace exed::ansible
