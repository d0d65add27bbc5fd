#include "shovey/jobs_adapter.hpp"

#include "errors.hpp"
#include "json.hpp"

#include <Poco/JSON/Array.h>
#include <exed/sdk.h>

#include <set>


namespace exed::shovey {

std::string JobsAdapter::submit_run(const std::string& node, const std::string& command,
                                    const std::vector<std::string>& argv, int run_timeout) {
    operate::Submission s;
    s.operate = EXED_OP_EXECUTE;
    s.args = new Poco::JSON::Object;
    Poco::JSON::Array a;
    for (auto& word : argv) a.add(word);
    s.args->set("argv", a);
    s.args->set("named_command", command);
    s.patterns = {node};
    s.run_timeout = run_timeout;
    return submitter_.submit(s).jid;
}

std::vector<std::pair<std::string, std::string>> JobsAdapter::live_output(const std::string& jid) {
    std::vector<std::pair<std::string, std::string>> out;
    // A resumed job's executor gets every chunk again from its agent: the
    // first of each (stream, seq) counts.
    std::set<std::pair<std::string, long>> seen;
    for (auto& ev : jobs_.events(jid, "", kMaxLiveChunks, 0)) {
        if (ev.type != "host") continue;
        try {
            auto o = parse_json(ev.data).extract<Poco::JSON::Object::Ptr>();
            for (auto& [host, value] : *o) {
                auto chunk = o->getObject(host);
                if (!chunk || chunk->optValue<std::string>("name", "") != "output") continue;
                std::string stream = chunk->optValue<std::string>("stream", "stdout");
                long seq = chunk->optValue<long>("seq", 0);
                if (seq > 0 && !seen.emplace(stream, seq).second) continue;
                out.emplace_back(stream == "stderr" ? "stderr" : "stdout", chunk->optValue<std::string>("data", ""));
            }
        } catch (const Poco::Exception&) {
            // not an object: no output in it
        }
    }
    return out;
}

std::optional<RunJob> JobsAdapter::run(const std::string& jid) {
    auto job = jobs_.find(jid);
    if (!job) return std::nullopt;
    RunJob r;
    r.jid = jid;
    r.status = job->status;
    r.error = job->error;
    r.cancel_requested = job->cancel_requested;
    r.run_timeout = job->run_timeout;
    r.created_ms = job->created_ms;
    r.started_s = job->startat;
    r.finished_s = job->finished;
    if (jobs::status::terminal(job->status)) {
        auto returns = jobs_.returns(jid);
        if (!job->targets.empty() && returns.count(job->targets[0])) r.result = returns[job->targets[0]];
    }
    return r;
}

void JobsAdapter::cancel(const std::string& jid) {
    auto job = jobs_.find(jid);
    if (!job || jobs::status::terminal(job->status)) return;
    try {
        jobs_.cancel(*job);
    } catch (const DomainError& e) {
        if (e.code() != Errc::conflict) throw;  // it ended meanwhile: nothing to cancel
    }
}

std::vector<std::string> JobsAdapter::known_hosts() {
    std::vector<std::string> hosts = submitter_.expand({"*"});  // every host, for ansible and salt alike
    std::optional<std::vector<operate::NodeState>> reported;
    try {
        reported = executor_nodes();
    } catch (const std::runtime_error&) {
        // The executor's targets still say who is there.
    }
    if (reported) {
        std::set<std::string> seen(hosts.begin(), hosts.end());
        for (auto& n : *reported)
            if (seen.insert(n.name).second) hosts.push_back(n.name);
    }
    return hosts;
}

std::map<std::string, bool> JobsAdapter::ping(const std::vector<std::string>& hosts,
                                              const std::atomic<bool>& stop) {
    std::map<std::string, bool> answered;
    for (auto& h : hosts) answered[h] = false;
    if (hosts.empty()) return answered;
    operate::Submission s;
    s.operate = EXED_OP_PING;
    s.args = new Poco::JSON::Object;  // ping takes no arguments but its targets
    s.patterns = hosts;
    auto answer = read_only_.run(s, stop);
    if (!answer.ok() || stop) return answered;
    for (auto& [host, result] : answer.results) {
        if (!answered.count(host)) continue;  // a pattern's other match: not asked about
        if (result.type() != typeid(Poco::JSON::Object::Ptr)) continue;  // not an object: no answer
        auto body = result.extract<Poco::JSON::Object::Ptr>();
        try {
            answered[host] = body->optValue<int>(EXED_KEY_STATUS, -1) == EXED_HOST_OK;
        } catch (const Poco::Exception&) {
            // a status that is no number: no answer
        }
    }
    return answered;
}

}  // namespace exed::shovey
