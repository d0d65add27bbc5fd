// exed's Ansible executor: each operation runs ansible (ad-hoc) or
// ansible-playbook once for all its targets, reads our callback's JSON lines
// as hosts finish and emits one event per host (per task for deploy).
#include "arguments.hpp"
#include "config.hpp"
#include "host_results.hpp"
#include "inventory.hpp"
#include "json_util.hpp"
#include "runner.hpp"

#include <exed/sdk.hpp>

#include <Poco/JSONString.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include <dlfcn.h>

namespace exed::ansible {
namespace {

// Ansible's own modules that ping and service run (its names, which only
// happen to match exed's operations; exed's are EXED_OP_* in sdk.h).
constexpr const char* kPingModule = "ping";
constexpr const char* kServiceModule = "service";

// <dir of this .so>/ansible: where the build and install put callback/ and
// modules/ next to exed_ansible.so.
std::string plugin_support_dir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&plugin_support_dir), &info) == 0 || !info.dli_fname)
        return "ansible";
    return (std::filesystem::path(info.dli_fname).parent_path() / "ansible").string();
}

Object::Ptr body(const std::string& key, int status) {
    Object::Ptr b = new Object;
    b->set(key, status);
    return b;
}

Object::Ptr failed_body(const std::string& key, const Object::Ptr& result) {
    Object::Ptr b = body(key, kFailed);
    b->set("error", result_message(result));
    return b;
}

// A JSON array of the named hosts, joined directly: a Poco::JSON::Array
// costs a Var allocation per host and a stream to print it, on every
// request (targets() runs for each submitted pattern). Each name is
// escaped by Poco::toJSON with the options Stringifier::condense uses, so
// the text is what to_json(Array) gave.
std::string hosts_json(const InventoryData& inv, const std::vector<uint32_t>& ids) {
    std::string out = "[";
    for (auto id : ids) {
        if (out.size() > 1) out += ',';
        out += Poco::toJSON(inv.hosts[id], Poco::JSON_WRAP_STRINGS);
    }
    out += ']';
    return out;
}

bool changed(const Object::Ptr& result) { return result->optValue<bool>("changed", false); }

// Per-host aggregate of a deploy, from task events (stats refine it).
struct DeployTally {
    int ok = 0, changed = 0, failed = 0, unreachable = 0, skipped = 0;
    std::string error;
    int status() const {
        if (unreachable) return kUnreachable;
        if (failed) return kFailed;
        if (changed) return kChanged;
        if (ok || !skipped) return kOk;
        return kSkipped;
    }
};

int task_status(const HostResult& r) {
    if (r.kind == "ok") return changed(r.result) ? kChanged : kOk;
    if (r.kind == "failed") return kFailed;
    if (r.kind == "unreachable") return kUnreachable;
    return kSkipped;
}

}  // namespace

class AnsibleExecutor : public exed::Executor {
public:
    AnsibleExecutor(const exed::Host&, const std::string& config_json)
        : config_(parse_config(config_json, plugin_support_dir())),
          inventory_(config_),
          runner_(config_) {}

    void check(exed::Call&, const std::string& op, const std::string& args_json) override {
        auto args = parse_object(args_json);
        if (op == EXED_OP_TARGETS) {
            std::string pattern = pattern_arg(args);
            if (auto inv = inventory_.if_fresh()) match_host_ids(*inv, pattern);  // bad regex -> 400
            return;
        }
        static const std::set<std::string> host_ops = {EXED_OP_PING, EXED_OP_FACTER, EXED_OP_SERVICE,
                                                       EXED_OP_EXECUTE, EXED_OP_DEPLOY};
        if (!host_ops.count(op)) return;
        auto targets = targets_arg(args);
        if (auto inv = inventory_.if_fresh()) require_known(*inv, targets);
        if (op == EXED_OP_SERVICE) service_args(args);
        if (op == EXED_OP_EXECUTE) execute_args(args);
        if (op == EXED_OP_DEPLOY) deploy_args(args, config_);
    }

    std::string targets(exed::Call& call, const std::string& args_json) override {
        auto args = parse_object(args_json);
        auto inv = inventory_.current(&call);  // shared, immutable: no copy
        return hosts_json(*inv, match_host_ids(*inv, pattern_arg(args)));
    }

    std::string ping(exed::Call& call, const std::string& args_json) override {
        auto targets = resolve_targets(call, parse_object(args_json));
        return adhoc(call, targets, "status", kPingModule, "", nullptr, [](const HostResult& r) {
            return r.kind == "ok" ? body("status", kOk) : failed_body("status", r.result);
        });
    }

    std::string facter(exed::Call& call, const std::string& args_json) override {
        auto targets = resolve_targets(call, parse_object(args_json));
        std::string module_args = fmt::format(R"({{"gather_timeout": {}}})", config_.timeout);
        return adhoc(call, targets, "state", "exed_facter", module_args, nullptr,
                     [](const HostResult& r) {
                         if (r.kind != "ok") return failed_body("state", r.result);
                         Object::Ptr b = body("state", kOk);
                         // exed_facter (modules/) answers under exed's key.
                         b->set(EXED_KEY_FACTS, r.result->has(EXED_KEY_FACTS) ? r.result->get(EXED_KEY_FACTS)
                                                                              : Poco::Dynamic::Var(Object()));
                         b->set("source", r.result->optValue<std::string>("source", "ansible"));
                         return b;
                     });
    }

    std::string service(exed::Call& call, const std::string& args_json) override {
        auto args = parse_object(args_json);
        auto targets = resolve_targets(call, args);
        ServiceArgs s = service_args(args);
        Object module_args;
        module_args.set("name", s.name);
        module_args.set("state", s.ansible_state());
        return adhoc(call, targets, "status", kServiceModule, to_json(module_args), nullptr,
                     [](const HostResult& r) {
                         if (r.kind != "ok") return failed_body("status", r.result);
                         return body("status", changed(r.result) ? kChanged : kOk);
                     });
    }

    std::string execute(exed::Call& call, const std::string& args_json) override {
        auto args = parse_object(args_json);
        auto targets = resolve_targets(call, args);
        ExecuteArgs e = execute_args(args);
        // The command travels as an unsafe variable: never templated, and
        // not limited by the size of one command-line argument.
        Object::Ptr vars = new Object;
        std::string module_args;
        if (e.has_argv) {
            Array::Ptr argv = new Array;
            for (auto& a : e.argv) argv->add(a);
            vars->set("exed_argv", argv);
            module_args = R"({"argv": "{{ exed_argv }}")";
        } else {
            vars->set("exed_cmd", e.cmd);
            module_args = R"({"cmd": "{{ exed_cmd }}")";
        }
        // The module kills the command itself when the run goes away (cancel,
        // run_timeout, a dead exed): with the same grace as exed's own kills.
        module_args += fmt::format(R"(, "kill_grace": {}}})", config_.kill_grace);
        return adhoc(call, targets, "status", "exed_exec", module_args, vars,
                     [](const HostResult& r) { return execute_body(r); });
    }

    std::string deploy(exed::Call& call, const std::string& args_json) override {
        auto args = parse_object(args_json);
        auto targets = resolve_targets(call, args);
        DeployArgs d = deploy_args(args, config_);
        HostResults results(call, targets, "status");
        std::map<std::string, DeployTally> tally;
        std::map<std::string, Object::Ptr> stats;
        auto run = runner_.role(call, targets, d.role, d.partial, d.extra_vars,
                                [&](const HostResult& r) {
                                    if (!results.is_target(r.host)) return;
                                    if (r.kind == "stats") {
                                        stats[r.host] = r.stats;
                                        return;
                                    }
                                    count_task(tally[r.host], r);
                                    call.emit(host_event(r.host, task_body(r)));
                                });
        for (auto& host : targets) {
            if (!tally.count(host) && !stats.count(host)) continue;  // -> "no result"
            results.finish(host, deploy_body(tally[host], stats[host]));
        }
        return results.result_json(run);
    }

private:
    using Shape = std::function<Object::Ptr(const HostResult&)>;

    // Runs one ad-hoc module on all targets; `shape` turns a host's result
    // (ok/failed/skipped) into its body; unreachable is shaped here.
    std::string adhoc(exed::Call& call, const std::vector<std::string>& targets,
                      const std::string& key, const std::string& module,
                      const std::string& module_args, const Object::Ptr& vars, const Shape& shape) {
        HostResults results(call, targets, key);
        auto run = runner_.adhoc(call, targets, module, module_args, vars,
                                 [&](const HostResult& r) {
                                     if (r.kind == "stats" || !results.is_target(r.host) ||
                                         results.finished(r.host))
                                         return;
                                     results.finish(r.host, r.kind == "unreachable"
                                                                ? unreachable_body(key, r.result)
                                                                : shape(r));
                                 });
        return results.result_json(run);
    }

    static Object::Ptr execute_body(const HostResult& r) {
        if (r.kind == "unreachable") return unreachable_body("status", r.result);
        Object::Ptr b = new Object;
        bool ran = r.result->has("rc") && r.result->has("stdout");
        int rtc = ran ? r.result->getValue<int>("rc") : -1;
        b->set("status", ran && rtc == 0 ? int(kChanged) : int(kFailed));
        b->set("rtc", rtc);
        b->set("stdout", r.result->optValue<std::string>("stdout", ""));
        b->set("stderr", ran ? r.result->optValue<std::string>("stderr", "")
                             : result_message(r.result));
        if (!ran) b->set("error", result_message(r.result));
        if (r.result->has("output_order")) b->set("output_order", r.result->get("output_order"));
        return b;
    }

    static void count_task(DeployTally& t, const HostResult& r) {
        int s = task_status(r);
        if (s == kChanged) ++t.changed;
        if (s == kOk || s == kChanged) ++t.ok;
        if (s == kSkipped) ++t.skipped;
        if (s == kUnreachable) ++t.unreachable;
        if (s == kFailed && !r.ignored) ++t.failed;
        if ((s == kFailed && !r.ignored) || s == kUnreachable)
            if (t.error.empty()) t.error = r.task + ": " + result_message(r.result);
    }

    static Object::Ptr task_body(const HostResult& r) {
        Object::Ptr b = new Object;
        b->set("status", task_status(r));
        b->set("name", r.task);
        b->set("return_data", r.result);
        if (r.ignored) b->set("ignored", true);
        return b;
    }

    // Ansible's own stats decide (a rescued failure is not a failure);
    // our tally only fills in when a run ended before printing them.
    static Object::Ptr deploy_body(DeployTally t, const Object::Ptr& stats) {
        if (stats) {
            t.ok = stats->optValue<int>("ok", 0);
            t.changed = stats->optValue<int>("changed", 0);
            t.failed = stats->optValue<int>("failures", 0);
            t.unreachable = stats->optValue<int>("unreachable", 0);
            t.skipped = stats->optValue<int>("skipped", 0);
        }
        Object::Ptr b = body("status", t.status());
        Object::Ptr counts = new Object;
        counts->set("ok", t.ok);
        counts->set("changed", t.changed);
        counts->set("failed", t.failed);
        counts->set("unreachable", t.unreachable);
        counts->set("skipped", t.skipped);
        b->set("tasks", counts);
        if ((t.failed || t.unreachable) && !t.error.empty()) b->set("error", t.error);
        return b;
    }

    static void require_known(const InventoryData& inv, const std::vector<std::string>& targets) {
        for (auto& h : targets)
            if (!inv.has_host(h)) throw exed::NotFound("no such host: " + h);
    }

    std::vector<std::string> resolve_targets(exed::Call& call, const Object::Ptr& args) {
        auto targets = targets_arg(args);
        require_known(*inventory_.current(&call), targets);
        std::vector<std::string> unique;
        std::set<std::string> seen;
        for (auto& h : targets)
            if (seen.insert(h).second) unique.push_back(h);
        return unique;
    }

    Config config_;
    Inventory inventory_;
    Runner runner_;
};

}  // namespace exed::ansible

EXED_EXECUTOR(exed::ansible::AnsibleExecutor, "ansible", "ansible_executor", "1.0.0")
