#include "runner.hpp"

#include "ansible_env.hpp"
#include "fork_server.hpp"

#include <exed/sdk.hpp>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

namespace exed::ansible {
namespace {

std::string join(const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (auto& s : items) out += (out.empty() ? "" : sep) + s;
    return out;
}

// A file that exists while the run needs it; unlinked by the destructor.
class TempFile {
public:
    // Tries each dir in turn; the file is created 0600 by mkstemps.
    TempFile(const std::vector<std::string>& dirs, const std::string& suffix,
             const std::string& content) {
        for (auto& dir : dirs) {
            std::string templ = dir + "/.exed-XXXXXX" + suffix;
            int fd = mkstemps(templ.data(), int(suffix.size()));
            if (fd < 0) continue;
            bool ok = write_all(fd, content);
            close(fd);
            if (ok) {
                path_ = templ;
                return;
            }
            unlink(templ.c_str());
        }
        throw exed::Error(fmt::format("cannot write a temp file in {}: {}", dirs.back(),
                                      std::strerror(errno)));
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() { unlink(path_.c_str()); }
    const std::string& path() const { return path_; }

private:
    static bool write_all(int fd, const std::string& s) {
        size_t done = 0;
        while (done < s.size()) {
            ssize_t n = write(fd, s.data() + done, s.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            done += size_t(n);
        }
        return true;
    }
    std::string path_;
};

// {"__ansible_unsafe": value}: ansible's JSON loader marks the value unsafe,
// so "{{ ... }}" in user input is data, never a template run on this host.
std::string unsafe_vars_json(const Object::Ptr& vars) {
    Object wrapped;
    wrapped.set("__ansible_unsafe", vars ? vars : Object::Ptr(new Object));
    return to_json(wrapped);
}

}  // namespace

std::optional<HostResult> parse_result_line(const std::string& line) {
    if (line.rfind("{\"exed_event\"", 0) != 0) return std::nullopt;
    Object::Ptr obj;
    try {
        obj = Poco::JSON::Parser().parse(line).extract<Object::Ptr>();
    } catch (const Poco::Exception&) {  // not JSON, or not an object
        return std::nullopt;
    }
    HostResult r;
    r.kind = obj->optValue<std::string>("exed_event", "");
    r.host = obj->optValue<std::string>("host", "");
    r.task = obj->optValue<std::string>("task", "");
    r.ignored = obj->optValue<bool>("ignored", false);
    r.interpreter = obj->optValue<std::string>("interpreter", "");
    r.result = obj->getObject("result");
    r.stats = obj->getObject("stats");
    if (!r.result) r.result = new Object;
    if (r.host.empty() || r.kind.empty()) return std::nullopt;
    return r;
}

Runner::Runner(const Config& config) : config_(config) {
    // One socket per executor instance: the daemon and standalone workers
    // may share the run dir, and a process may load the plugin twice (tests).
    static std::atomic<int> instances{0};
    if (config_.fork_server)
        server_ = std::make_unique<ForkServer>(
            config_.fork_server_script, ansible_env(config_), config_.workdir,
            fmt::format("{}/forkserver-{}-{}.sock", config_.run_dir, getpid(), ++instances));
}

Runner::~Runner() = default;

std::string Runner::cached_interpreter(const std::vector<std::string>& hosts) {
    std::lock_guard<std::mutex> lock(interpreters_mutex_);
    std::string common;
    for (auto& h : hosts) {
        auto it = interpreters_.find(h);
        if (it == interpreters_.end() || (!common.empty() && common != it->second)) return {};
        common = it->second;
    }
    return common;
}

void Runner::learn_interpreter(const HostResult& r) {
    std::lock_guard<std::mutex> lock(interpreters_mutex_);
    if (!r.interpreter.empty()) {
        interpreters_[r.host] = r.interpreter;
    } else if (r.kind == "failed" && r.result->has("module_stderr")) {
        interpreters_.erase(r.host);  // the module did not start: rediscover
    }
}

ProcessResult Runner::run(const exed::Call& call, std::vector<std::string> argv,
                          std::map<std::string, std::string> env,
                          const std::vector<std::string>& hosts, const ResultHandler& on_result) {
    // Interpreter discovery costs extra ssh round trips on every run: reuse
    // what an earlier run discovered when all targets agree. It is a config
    // setting, so an ansible_python_interpreter in the inventory still wins.
    if (config_.python_interpreter.empty()) {
        std::string python = cached_interpreter(hosts);
        if (!python.empty()) env["ANSIBLE_PYTHON_INTERPRETER"] = python;
    }
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.env = std::move(env);
    spec.cwd = config_.workdir;
    spec.kill_grace = config_.kill_grace;
    spec.server = server_.get();
    return run_process(spec, &call, [&](const std::string& line) {
        auto r = parse_result_line(line);
        if (!r) return;
        learn_interpreter(*r);
        on_result(*r);
    });
}

ProcessResult Runner::adhoc(const exed::Call& call, const std::vector<std::string>& hosts,
                            const std::string& module, const std::string& module_args,
                            const Object::Ptr& vars, const ResultHandler& on_result) {
    TempFile vars_file({config_.run_dir + "/tmp"}, ".json", unsafe_vars_json(vars));
    auto env = ansible_env(config_);
    std::vector<std::string> argv = {"ansible", join(hosts, ","), "-i", config_.inventory,
                                     "-m", module, "-e", "@" + vars_file.path()};
    if (!module_args.empty()) {
        argv.push_back("-a");
        argv.push_back(module_args);
    }
    return run(call, argv, env, hosts, on_result);
}

ProcessResult Runner::role(const exed::Call& call, const std::vector<std::string>& hosts,
                           const std::string& role, const std::string& tags,
                           const Object::Ptr& vars, const ResultHandler& on_result) {
    Object::Ptr role_ref = new Object;
    role_ref->set("role", role);
    Array::Ptr roles = new Array;
    roles->add(role_ref);
    Object::Ptr play = new Object;
    play->set("name", "exed deploy " + role);
    play->set("hosts", join(hosts, ","));
    play->set("gather_facts", config_.gather_facts);
    play->set("roles", roles);
    Array playbook;
    playbook.add(play);
    // In the playbooks dir when we may write there, so its group_vars/,
    // host_vars/ and roles/ apply as to any playbook of the project.
    TempFile book({config_.playbooks, config_.run_dir + "/tmp"}, ".yml", to_json(playbook));
    TempFile vars_file({config_.run_dir + "/tmp"}, ".json", unsafe_vars_json(vars));

    auto env = ansible_env(config_);
    std::vector<std::string> argv = {"ansible-playbook", "-i", config_.inventory,
                                     "-e", "@" + vars_file.path()};
    if (!tags.empty()) {
        argv.push_back("--tags");
        argv.push_back(tags);
    }
    argv.push_back(book.path());
    return run(call, argv, env, hosts, on_result);
}

}  // namespace exed::ansible
