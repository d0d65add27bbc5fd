// Starts ansible / ansible-playbook for one operation and turns the lines of
// our callback (callback/exed_events.py) into HostResult values as they
// arrive. Owns the per-host interpreter cache.
#pragma once

#include "config.hpp"
#include "json_util.hpp"
#include "process.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace exed {
class Call;
}

namespace exed::ansible {

class ForkServer;

// One line of our callback: a task result of one host, or its final stats.
struct HostResult {
    std::string kind;  // "ok" | "failed" | "unreachable" | "skipped" | "stats"
    std::string host;
    std::string task;
    bool ignored = false;     // a failure under ignore_errors
    Object::Ptr result;       // the module result (kind != "stats")
    Object::Ptr stats;        // ok/changed/failures/unreachable/skipped/rescued/ignored
    std::string interpreter;  // discovered python, when discovery ran
};

// The HostResult of a callback line, or nothing for any other stdout line.
std::optional<HostResult> parse_result_line(const std::string& line);

using ResultHandler = std::function<void(const HostResult&)>;

class Runner {
public:
    explicit Runner(const Config& config);
    ~Runner();

    // `ansible <hosts> -m <module> -a <module_args>` with our modules on the
    // library path. `vars` (may be null) go through a temp file, wrapped as
    // unsafe so ansible never templates them.
    ProcessResult adhoc(const exed::Call& call, const std::vector<std::string>& hosts,
                        const std::string& module, const std::string& module_args,
                        const Object::Ptr& vars, const ResultHandler& on_result);

    // `ansible-playbook` of a generated playbook applying `role` to `hosts`,
    // with --tags `tags` when not empty and `vars` as unsafe extra vars.
    ProcessResult role(const exed::Call& call, const std::vector<std::string>& hosts,
                       const std::string& role, const std::string& tags,
                       const Object::Ptr& vars, const ResultHandler& on_result);

private:
    ProcessResult run(const exed::Call& call, std::vector<std::string> argv,
                      std::map<std::string, std::string> env, const std::vector<std::string>& hosts,
                      const ResultHandler& on_result);
    std::string cached_interpreter(const std::vector<std::string>& hosts);
    void learn_interpreter(const HostResult& r);

    const Config& config_;
    std::mutex interpreters_mutex_;
    std::map<std::string, std::string> interpreters_;  // host -> discovered python
    std::unique_ptr<ForkServer> server_;
};

}  // namespace exed::ansible
