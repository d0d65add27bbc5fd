// exed executor plugin "agent": runs exed's operations through connected
// exed agents (`exed agent`), which verify every command's signature
// before anything runs. See docs/agent.md.
#include "agent_hub.hpp"
#include "agent_settings.hpp"
#include "command_signer.hpp"
#include "host_pattern.hpp"
#include "run_batch.hpp"
#include "wire_commands.hpp"

#include <exed/sdk.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/StringTokenizer.h>

#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include <sys/resource.h>

namespace exed::agent_executor {

namespace {

Poco::JSON::Object::Ptr args_object(const std::string& json) {
    try {
        auto v = Poco::JSON::Parser().parse(json);
        if (auto o = v.extract<Poco::JSON::Object::Ptr>()) return o;
    } catch (const std::exception&) {
    }
    throw BadInput("arguments must be a JSON object");
}

std::vector<std::string> targets_of(const Poco::JSON::Object::Ptr& args) {
    auto arr = args->getArray("targets");
    if (!arr || arr->size() == 0) throw BadInput("targets must be a non-empty array of strings");
    std::vector<std::string> out;
    for (size_t i = 0; i < arr->size(); ++i) {
        if (!arr->get(i).isString()) throw BadInput("targets must be an array of strings");
        out.push_back(arr->get(i).toString());
    }
    return out;
}

// Shovey's "named_command" (issue 24, item 10), checked so that it can only
// name an [agent.commands] entry, never one of the agent's own commands.
std::string named_command(const Poco::JSON::Object::Ptr& args) {
    if (!args->has("named_command") || args->isNull("named_command")) return "";
    auto v = args->get("named_command");
    if (!v.isString() || v.toString().empty()) throw BadInput("named_command must be a non-empty string");
    std::string name = v.toString();
    for (const char* builtin :
         {agent_wire::kExec, agent_wire::kFacter, agent_wire::kService, agent_wire::kDeploy})
        if (name == builtin)
            throw BadInput("named_command '" + name + "' is one of the agent's own commands, not a named one");
    return name;
}

std::string argv_json(const std::vector<std::string>& argv) {
    Poco::JSON::Array a;
    for (auto& s : argv) a.add(s);
    std::ostringstream s;
    a.stringify(s);
    return s.str();
}

// Thousands of agent sockets need thousands of descriptors.
void raise_open_file_limit(const exed::Host& host) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    rlim_t before = lim.rlim_cur;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) lim.rlim_cur = before;
    }
    if (lim.rlim_cur != before)
        host.log(EXED_LOG_INFO, "raised the open-file limit from " + std::to_string(before) + " to " +
                                    std::to_string(lim.rlim_cur) + " for agent connections");
    if (lim.rlim_cur < 8192)
        host.log(EXED_LOG_WARNING, "open-file limit is " + std::to_string(lim.rlim_cur) +
                                       " (hard limit): at most about that many agents can connect; raise "
                                       "LimitNOFILE / ulimit -Hn");
}

}  // namespace

class AgentExecutor : public exed::Executor {
public:
    AgentExecutor(const exed::Host& host, const std::string& config_json)
        : settings_(parse_settings(config_json)) {
        if (!settings_.configured) return;
        signer_ = std::make_unique<CommandSigner>(settings_.signing_key, host);
        hub_ = std::make_unique<AgentHub>(settings_, host);
        raise_open_file_limit(host);
    }

    // Every known node is a target, connected or not: an operation on one
    // whose agent is away answers status 3 (unreachable) for it, as the
    // ansible executor does for a host that is down (issue 24, item 8).
    std::string targets(exed::Call&, const std::string& args_json) override {
        ready();
        auto args = args_object(args_json);
        std::string pattern = args->optValue<std::string>("pattern", "*");
        if (pattern.find_first_not_of(" \t") == std::string::npos) pattern = "*";
        std::vector<std::string> names;
        for (auto& n : known_nodes()) names.push_back(n.name);
        Poco::JSON::Array out;
        for (auto& n : match_nodes(names, pattern)) out.add(n);
        std::ostringstream s;
        out.stringify(s);
        return s.str();
    }

    std::string ping(exed::Call& call, const std::string& args_json) override {
        AgentHub& hub = ready();  // before *signer_: both exist only when configured
        return RunBatch(hub, *signer_, call, RunKind::Ping).run(targets_of(args_object(args_json)), "", "");
    }

    std::string facter(exed::Call& call, const std::string& args_json) override {
        AgentHub& hub = ready();  // before *signer_: both exist only when configured
        return RunBatch(hub, *signer_, call, RunKind::Facter)
            .run(targets_of(args_object(args_json)), agent_wire::kFacter, "");
    }

    std::string execute(exed::Call& call, const std::string& args_json) override {
        return execute_as(call, args_json, false);
    }
    std::string service(exed::Call& call, const std::string& args_json) override {
        return service_as(call, args_json, false);
    }

    // sdk.h 1.3: a restarted exed (or plugin host) finishes a lost call of
    // this job. The runs are named after the job and sent as `start` again:
    // the agents that still run them (or ran them, within 15 minutes) send
    // all they sent again, those exed never reached start them, and an
    // agent that ran one earlier refuses it (its replay guard): once each.
    std::string resume(exed::Call& call, const std::string& lost_json) override {
        auto lost = args_object(lost_json);
        std::string op = lost->optValue<std::string>("op", "");
        auto args = lost->getObject("args");
        if (!args) throw BadInput("resume needs the lost call's args");
        std::ostringstream text;
        args->stringify(text);
        // Read-only: asking again is the answer.
        if (op == EXED_OP_PING) return ping(call, text.str());
        if (op == EXED_OP_FACTER) return facter(call, text.str());
        if (call.job_id().empty()) throw Unsupported("no job id: the runs to resume cannot be named");
        if (op == EXED_OP_EXECUTE) return execute_as(call, text.str(), true);
        if (op == EXED_OP_SERVICE) return service_as(call, text.str(), true);
        throw Unsupported("the agent executor cannot resume '" + op.substr(0, 64) + "'");
    }

private:
    // exed's core sends argv (split from cmd once, docs/api.md "One argv
    // rule"); the agent runs it when it is one word naming one of its
    // [agent.commands] or allow_exec is on. A Shovey run names its command
    // instead: the name travels signed, the node runs its own definition.
    std::string execute_as(exed::Call& call, const std::string& args_json, bool attach) {
        auto args = args_object(args_json);
        std::string named = named_command(args);
        if (!named.empty()) {
            AgentHub& hub = ready();  // before *signer_: both exist only when configured
            return RunBatch(hub, *signer_, call, RunKind::Execute, run_ids(call, attach), attach)
                .run(targets_of(args), named, "");
        }
        std::vector<std::string> argv;
        if (auto arr = args->getArray("argv")) {
            for (size_t i = 0; i < arr->size(); ++i) argv.push_back(arr->get(i).toString());
        } else {
            Poco::StringTokenizer words(args->optValue<std::string>("cmd", ""), " \t\n",
                                        Poco::StringTokenizer::TOK_IGNORE_EMPTY);
            argv.assign(words.begin(), words.end());
        }
        if (argv.empty()) throw BadInput("cmd must not be empty");
        AgentHub& hub = ready();  // before *signer_: both exist only when configured
        return RunBatch(hub, *signer_, call, RunKind::Execute, run_ids(call, attach), attach)
            .run(targets_of(args), agent_wire::kExec, argv_json(argv));
    }

    std::string service_as(exed::Call& call, const std::string& args_json, bool attach) {
        auto args = args_object(args_json);
        std::string name = args->optValue<std::string>("name", "");
        int state = -1;
        if (args->has("state")) {
            auto v = args->get("state");
            try {
                state = v.convert<int>();
            } catch (const std::exception&) {
            }
        }
        if (state < EXED_SERVICE_STARTED || state > EXED_SERVICE_RESTARTED) throw BadInput(EXED_SERVICE_STATE_RULE);
        bool graceful = args->optValue<bool>("graceful", false);
        // systemctl's verbs (the agent accepts these four).
        const char* action = state == EXED_SERVICE_STARTED   ? "start"
                             : state == EXED_SERVICE_STOPPED ? "stop"
                             : graceful                      ? "reload"
                                                             : "restart";
        // The agent validates the unit name again (it trusts no one).
        AgentHub& hub = ready();  // before *signer_: both exist only when configured
        return RunBatch(hub, *signer_, call, RunKind::Service, run_ids(call, attach), attach)
            .run(targets_of(args), agent_wire::kService, argv_json({name, action}));
    }

    // "<job>/<n>/": the runs of the job's n-th call here (a releaser's job
    // makes several); the lost call a resume attaches to was its first.
    std::string run_ids(exed::Call& call, bool resume) {
        std::string job = call.job_id();
        if (job.empty()) return "";
        int n = 1;
        if (!resume) {
            std::lock_guard<std::mutex> lock(calls_mutex_);
            if (calls_per_job_.size() > 100000) calls_per_job_.clear();  // bounded; old jobs are long done
            n = ++calls_per_job_[job];
        }
        return job + "/" + std::to_string(n) + "/";
    }

public:
    // The connection table as node status (sdk.h 1.2): up while connected
    // and heard from, down once dropped; never-connected agents are absent.
    std::string nodes(exed::Call&, const std::string&) override {
        Poco::JSON::Array list;
        for (auto& n : known_nodes()) {
            Poco::JSON::Object o;
            o.set("name", n.name);
            o.set("status", n.up ? "up" : "down");
            o.set("last_seen", n.last_seen);
            list.add(o);
        }
        Poco::JSON::Object out;
        out.set("nodes", list);
        std::ostringstream s;
        out.stringify(s);
        return s.str();
    }

private:
    std::mutex calls_mutex_;
    std::map<std::string, int> calls_per_job_;

    // THE known nodes (issue 24, item 8): targets, `nodes` and so Shovey and
    // /target read them here: the registry's accepted nodes, up while
    // connected (AgentHub::known_nodes).
    std::vector<NodeSeen> known_nodes() const { return ready().known_nodes(); }

    AgentHub& ready() const {
        if (!hub_) throw Error("the agent executor is not configured: [agent] token_file is missing (docs/agent.md)");
        return *hub_;
    }

    AgentSettings settings_;
    std::unique_ptr<CommandSigner> signer_;
    std::unique_ptr<AgentHub> hub_;
};

}  // namespace exed::agent_executor

EXED_EXECUTOR(exed::agent_executor::AgentExecutor, "agent", "agent_executor", "1.0.0")
