// exed executor plugin "salt": runs exed's operations through salt-api
// (rest_cherrypy) so `[runner] executor = salt` keeps every API call and
// result shape of the ansible executor. See docs/salt.md.
#include "salt_api_client.hpp"
#include "salt_args.hpp"
#include "salt_config.hpp"
#include "salt_job_runner.hpp"
#include "salt_results.hpp"

#include <exed/sdk.hpp>

#include <Poco/Glob.h>
#include <Poco/StringTokenizer.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace exed::salt {

namespace {

Array::Ptr args_of(std::initializer_list<Var> values) {
    Array::Ptr a = new Array;
    for (auto& v : values) a->add(v);
    return a;
}

// Collects the per-minion results of one operation and emits each one as an
// event the moment it is final.
class ResultSet {
public:
    explicit ResultSet(exed::Call& call) : call_(call) {}
    void add(const std::string& minion, const Object::Ptr& result) {
        call_.emit(to_json(keyed(minion, result)));
        all_.set(minion, result);
    }
    std::string json() const { return to_json(all_); }

private:
    exed::Call& call_;
    Object all_;
};

const char* service_function(exed_service_state state, bool graceful) {
    switch (state) {
        case EXED_SERVICE_STARTED: return "service.start";
        case EXED_SERVICE_STOPPED: return "service.stop";
        case EXED_SERVICE_RESTARTED: return graceful ? "service.reload" : "service.restart";
    }
    return "service.status";
}

}  // namespace

class SaltExecutor : public exed::Executor {
    // GET /health runs on an HTTP thread: a blackholed salt-api must not hold it long.
    static constexpr int health_probe_seconds = 2;

public:
    SaltExecutor(const exed::Host& host, const std::string& config_json)
        : cfg_(parse_config(config_json)), api_(cfg_) {
        // No network here: a salt-api that is down must not keep exed from
        // starting; its jobs fail with a clear error instead.
        host.log(EXED_LOG_INFO, "salt executor uses " + cfg_.api_url + " (eauth " + cfg_.eauth + ")");
    }

    // "health" is asked by exed's GET /health: without salt-api this
    // executor cannot run anything, so an unreachable one is refused.
    void check(exed::Call&, const std::string& op, const std::string& args_json) override {
        if (op == "health") return api_.probe(health_probe_seconds);
        check_args(op, args_json);
    }

    // Accepted minion keys (wheel key.list_all) matching the pattern: like an
    // inventory, it lists minions whether they are up or not, and it is a
    // directory listing on the master, so it is fast enough for HTTP threads.
    std::string targets(exed::Call&, const std::string& args_json) override {
        std::string pattern = pattern_arg(parse_object(args_json, "arguments"));
        std::vector<std::string> minions = accepted_minions();
        std::vector<std::unique_ptr<Poco::Glob>> globs;  // Glob cannot be copied
        Poco::StringTokenizer parts(pattern, ",:", Poco::StringTokenizer::TOK_IGNORE_EMPTY |
                                                      Poco::StringTokenizer::TOK_TRIM);
        for (auto& p : parts) globs.push_back(std::make_unique<Poco::Glob>(p));
        Array out;
        for (auto& m : minions)
            for (auto& g : globs)
                if (g->match(m)) {
                    out.add(m);
                    break;
                }
        return to_json(out);
    }

    std::string ping(exed::Call& call, const std::string& args_json) override {
        auto targets = targets_arg(parse_object(args_json, "arguments"));
        ResultSet results(call);
        JobRunner(api_, call).run(targets, "test.ping", nullptr, nullptr,
                                  [&](const MinionOutcome& o) { results.add(o.minion, ping_result(o)); });
        return results.json();
    }

    std::string facter(exed::Call& call, const std::string& args_json) override {
        auto targets = targets_arg(parse_object(args_json, "arguments"));
        ResultSet results(call);
        JobRunner(api_, call).run(targets, "grains.items", nullptr, nullptr,
                                  [&](const MinionOutcome& o) { results.add(o.minion, facter_result(o)); });
        return results.json();
    }

    // service.status first, so that "changed" (4) means the state really
    // changed; then start/stop only where needed, restart/reload everywhere.
    std::string service(exed::Call& call, const std::string& args_json) override {
        ServiceArgs s = service_args(parse_object(args_json, "arguments"));
        ResultSet results(call);
        JobRunner runner(api_, call);
        std::vector<std::string> act;
        runner.run(s.targets, "service.status", args_of({s.name}), nullptr,
                   [&](const MinionOutcome& o) {
                       if (!o.returned) return results.add(o.minion, unreachable_result(o));
                       if (!o.value.isBoolean())
                           return results.add(o.minion, error_result(Failed, "service.status " + s.name + ": " +
                                                                         salt_error_text(o.value)));
                       bool running = o.value.extract<bool>();
                       bool needed = s.state == EXED_SERVICE_RESTARTED ||
                                     (s.state == EXED_SERVICE_STARTED) != running;
                       if (needed)
                           act.push_back(o.minion);
                       else
                           results.add(o.minion, status_result(OK));
                   });
        if (act.empty()) return results.json();
        const std::string fun = service_function(s.state, s.graceful);
        runner.run(act, fun, args_of({s.name}), nullptr, [&](const MinionOutcome& o) {
            if (!o.returned) return results.add(o.minion, unreachable_result(o));
            if (o.value.isBoolean() && o.value.extract<bool>())
                return results.add(o.minion, status_result(Changed));
            std::string why = salt_error_text(o.value);
            results.add(o.minion, error_result(Failed, fun + " " + s.name + " failed" +
                                                           (why.empty() ? "" : ": " + why)));
        });
        return results.json();
    }

    // cmd.run_all with python_shell=False: a string is split by Salt with
    // shlex, an argv list is run exactly as given; never through a shell.
    std::string execute(exed::Call& call, const std::string& args_json) override {
        ExecuteArgs e = execute_args(parse_object(args_json, "arguments"));
        Object::Ptr kwarg = new Object;
        kwarg->set("python_shell", false);
        ResultSet results(call);
        JobRunner(api_, call).run(e.targets, "cmd.run_all", args_of({e.command}), kwarg,
                                  [&](const MinionOutcome& o) { results.add(o.minion, execute_result(o)); });
        return results.json();
    }

    // state.apply of SLS "role" (or "role.partial") with extra_vars as pillar.
    std::string deploy(exed::Call& call, const std::string& args_json) override {
        DeployArgs d = deploy_args(parse_object(args_json, "arguments"));
        Object::Ptr kwarg = new Object;
        kwarg->set("pillar", d.pillar);
        ResultSet results(call);
        JobRunner(api_, call).run(d.targets, "state.apply", args_of({d.sls}), kwarg,
                                  [&](const MinionOutcome& o) {
                                      StateApplyResult r = state_apply_result(o);
                                      for (auto& st : r.states) call.emit(to_json(keyed(o.minion, st)));
                                      results.add(o.minion, r.summary);
                                  });
        return results.json();
    }

private:
    std::vector<std::string> accepted_minions() {
        using Clock = std::chrono::steady_clock;
        {
            std::lock_guard<std::mutex> lock(cache_mutex_);
            if (cache_valid_ && Clock::now() < cache_until_) return cached_minions_;
        }
        Object::Ptr low = new Object;
        low->set("client", std::string("wheel"));
        low->set("fun", std::string("key.list_all"));
        Var ret = api_.run(low);
        auto outer = as_object(ret);
        auto data = outer ? as_object(outer->get("data")) : nullptr;
        auto keys = data ? as_object(data->get("return")) : nullptr;
        if (!keys || !data->optValue<bool>("success", true))
            throw Error("wheel key.list_all answered unexpectedly: " + to_json(ret));
        std::vector<std::string> minions = string_list(keys->get("minions"));
        std::lock_guard<std::mutex> lock(cache_mutex_);
        cached_minions_ = minions;
        cache_valid_ = true;
        cache_until_ = Clock::now() + std::chrono::milliseconds(long(cfg_.targets_cache * 1000));
        return minions;
    }

    SaltConfig cfg_;
    SaltApiClient api_;
    std::mutex cache_mutex_;
    bool cache_valid_ = false;
    std::chrono::steady_clock::time_point cache_until_;
    std::vector<std::string> cached_minions_;
};

}  // namespace exed::salt

EXED_EXECUTOR(exed::salt::SaltExecutor, "salt", "salt_executor", "1.0.0")
