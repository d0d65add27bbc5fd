#include "shovey/service.hpp"

#include "errors.hpp"
#include "jobs/model.hpp"
#include "operate/numbers.hpp"
#include "shovey/documents.hpp"
#include "shovey/quorum.hpp"

#include <Poco/RegularExpression.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

namespace exed::shovey {

namespace {

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// "a, b, c" with at most `max` names, so a message stays bounded.
std::string names(const std::vector<std::string>& v, size_t max = 20) {
    std::string out;
    for (size_t i = 0; i < v.size() && i < max; ++i) out += (i ? ", " : "") + v[i];
    if (v.size() > max) out += ", ... (" + std::to_string(v.size()) + " in all)";
    return out;
}

std::string string_field(const Poco::JSON::Object::Ptr& body, const std::string& key) {
    if (!body->has(key) || !body->get(key).isString())
        throw DomainError(Errc::invalid, key + " must be a string");
    return body->getValue<std::string>(key);
}

// The node names of a request: an array of distinct, well-formed names.
std::vector<std::string> node_list(const Poco::JSON::Object::Ptr& body, bool allow_empty) {
    if (!body->has("nodes")) {
        if (allow_empty) return {};
        throw DomainError(Errc::invalid, "nodes is required (an array of node names)");
    }
    auto arr = body->getArray("nodes");
    if (!arr) throw DomainError(Errc::invalid, "nodes must be an array of node names");
    if (arr->size() > kMaxNodes)
        throw DomainError(Errc::invalid, "too many nodes: " + std::to_string(arr->size()) + " > " + std::to_string(kMaxNodes));
    if (arr->size() == 0 && !allow_empty) throw DomainError(Errc::invalid, "nodes must not be empty");
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (size_t i = 0; i < arr->size(); ++i) {
        auto v = arr->get(i);
        if (!v.isString()) throw DomainError(Errc::invalid, "nodes must be an array of node names");
        std::string n = v.extract<std::string>();
        if (!valid_node_name(n)) throw DomainError(Errc::invalid, "invalid node name '" + n.substr(0, 64) + "'");
        if (!seen.insert(n).second) throw DomainError(Errc::invalid, "node " + n + " is given twice");
        out.push_back(n);
    }
    return out;
}

void only_keys(const Poco::JSON::Object::Ptr& body, std::initializer_list<const char*> allowed) {
    for (auto& [k, v] : *body) {
        bool ok = false;
        for (auto a : allowed) ok = ok || k == a;
        if (!ok) throw DomainError(Errc::invalid, "unknown field '" + k.substr(0, 64) + "'");
    }
}

// The job's status from its runs (when no start-up outcome decided it).
std::string status_from(const JobRecord& job, const std::vector<Run>& runs) {
    if (!job.status.empty()) return job.status;
    bool any_running = false, any_open = false, any_cancelled = false;
    for (auto& r : runs) {
        if (!node_status::terminal(r.status)) any_open = true;
        if (r.status == node_status::running) any_running = true;
        if (r.status == node_status::cancelled) any_cancelled = true;
    }
    if (any_open) return any_running ? job_status::running : job_status::submitted;
    return any_cancelled ? job_status::cancelled : job_status::complete;
}

}  // namespace

bool valid_node_name(const std::string& name) {
    // Host names as inventories spell them; no pattern characters, so a
    // node can never expand to other hosts.
    static const Poco::RegularExpression shape("^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,252}$");
    return shape.match(name);
}

bool valid_job_id(const std::string& id) {
    static const Poco::RegularExpression shape("^[A-Za-z0-9-]{1,64}$");
    return shape.match(id);
}

CreateRequest parse_create(const Config& config, const Poco::JSON::Object::Ptr& body) {
    CreateRequest out;
    only_keys(body, {"command", "quorum", "nodes", "run_timeout"});
    out.command = string_field(body, "command");
    auto cmd = config.commands.find(out.command);
    if (cmd == config.commands.end()) {
        std::vector<std::string> known;
        for (auto& [name, argv] : config.commands) known.push_back(name);
        throw DomainError(Errc::invalid, "unknown command '" + out.command.substr(0, 64) + "' (known: " +
                                (known.empty() ? "none configured in [shovey.commands]" : names(known)) + ")");
    }
    out.argv = cmd->second;
    out.nodes = node_list(body, false);
    out.run_timeout = config.run_timeout;
    if (body->has("run_timeout"))
        out.run_timeout = int(operate::require_json_integer(
            body->get("run_timeout"), 1, 7 * 86400, "run_timeout must be an integer from 1 to 604800 (seconds)"));
    out.required =
        required_nodes(body->has("quorum") ? body->get("quorum") : Poco::Dynamic::Var(), out.nodes.size());
    if (body->has("quorum")) out.quorum = body->get("quorum").toString();
    return out;
}

std::string Service::create(const Poco::JSON::Object::Ptr& body) {
    auto request = parse_create(config_, body);
    const auto& nodes = request.nodes;
    size_t required = request.required;
    auto known = jobs_.known_hosts();
    std::set<std::string> known_set(known.begin(), known.end());
    std::vector<std::string> unknown, up;
    for (auto& n : nodes) {
        if (!known_set.count(n)) unknown.push_back(n);
        else if (auto s = store_.node_status(n); s && s->status == "up") up.push_back(n);
    }
    if (!unknown.empty()) throw DomainError(Errc::invalid, "unknown node(s): " + names(unknown));

    JobRecord job;
    job.id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    job.command = request.command;
    job.run_timeout = request.run_timeout;
    job.quorum = request.quorum;
    job.created_ms = job.updated_ms = now_ms();
    job.nodes = nodes;
    std::set<std::string> up_set(up.begin(), up.end());
    for (auto& n : nodes) {
        if (!up_set.count(n)) {
            Run r;
            r.status = node_status::down;
            job.runs[n] = r.to_cache_json();
        }
    }
    if (up.size() < required) {
        // Nothing runs anywhere; the nodes that were up are not contacted.
        job.status = job_status::quorum_failed;
        job.error = "quorum not met: " + std::to_string(up.size()) + " of " +
                    std::to_string(nodes.size()) + " node(s) up, " + std::to_string(required) + " required";
        for (auto& n : up) {
            Run r;
            r.status = node_status::cancelled;
            r.error = "not started: " + job.error;
            job.runs[n] = r.to_cache_json();
        }
    } else {
        start_runs(job, request.argv, up);
    }
    // Kept as long as its runs at least: they expire job_ttl after they end.
    store_.create(job, settings_.job_ttl + request.run_timeout + 86400);
    return job.id;
}

void Service::start_runs(JobRecord& job, const std::vector<std::string>& argv,
                         const std::vector<std::string>& up) {
    size_t started = 0;
    std::string last_error;
    for (auto& n : up) {
        Run r;
        try {
            r.jid = jobs_.submit_run(n, job.command, argv, job.run_timeout);
            r.status = node_status::created;
            ++started;
        } catch (const DomainError& e) {
            // A host locked by another job is a node that cannot take the
            // command now: Shovey's "nacked".
            bool busy = e.code() == Errc::conflict;
            r.status = busy ? node_status::nacked : node_status::failed;
            r.error = busy ? "busy: another job holds the host" : e.what();
            last_error = r.error;
        }
        job.runs[n] = r.to_cache_json();
    }
    if (started == 0 && !up.empty()) {
        job.status = job_status::job_failed;
        job.error = "no run could be started: " + last_error;
    }
}

JobRecord Service::require_job(const std::string& id) {
    std::optional<JobRecord> job;
    if (valid_job_id(id)) job = store_.get(id);
    if (!job) throw DomainError(Errc::not_found, "no such shovey job: " + id.substr(0, 64));
    return *job;
}

std::vector<Run> Service::runs_of(JobRecord& job) {
    std::vector<Run> runs;
    bool changed = false;
    for (auto& n : job.nodes) {
        Run r = Run::from_cache_json(n, job.runs.count(n) ? job.runs[n] : "{}");
        if (!node_status::terminal(r.status) && !r.jid.empty()) {
            r = merge_run(r, jobs_.run(r.jid));
            if (node_status::terminal(r.status)) {
                if (store_.set_run(job.id, n, r.to_cache_json(), std::max(r.end_ms, now_ms()))) {
                    job.runs[n] = r.to_cache_json();
                } else if (auto fresh = store_.get(job.id); fresh && fresh->runs.count(n)) {
                    job.runs[n] = fresh->runs[n];  // an agent's report ended it first
                    r = Run::from_cache_json(n, job.runs[n]);
                }
                changed = true;
            }
        }
        runs.push_back(std::move(r));
    }
    if (changed && status_from(job, runs) != job_status::running &&
        status_from(job, runs) != job_status::submitted)
        store_.expire(job.id, settings_.job_ttl);  // ended: kept as long as its runs
    return runs;
}

Poco::JSON::Object::Ptr Service::document(JobRecord& job) {
    auto runs = runs_of(job);
    int64_t updated = job.updated_ms;
    for (auto& r : runs) updated = std::max({updated, r.ack_ms, r.end_ms});
    return job_document(job, runs, status_from(job, runs), updated);
}

Poco::JSON::Object::Ptr Service::job(const std::string& id) {
    auto job = require_job(id);
    return document(job);
}

const std::string& require_node(const JobRecord& job, const std::string& node) {
    for (auto& n : job.nodes)
        if (n == node) return n;
    throw DomainError(Errc::not_found, "node " + node.substr(0, 64) + " is not part of shovey job " + job.id);
}

// The run with its output: read from its exed job (the cache only when
// that job is gone, or what an agent reported), and the chunks an agent
// reported, which are then its output.
Run Service::run_status(const JobRecord& job, const std::string& node) {
    Run cached = Run::from_cache_json(node, job.runs.count(node) ? job.runs.at(node) : "{}");
    if (cached.jid.empty()) return cached;
    auto rj = jobs_.run(cached.jid);
    if (cached.reported) return merge_run(cached, rj);
    if (rj || !node_status::terminal(cached.status)) return run_from_job(node, cached.jid, rj);
    return cached;
}

Run Service::current_run(const JobRecord& job, const std::string& node) {
    Run r = run_status(job, node);
    r.reported_chunks = store_.chunks(job.id, node);
    use_reported_output(r, r.reported_chunks);
    // Still running and nothing reported: the output its executor streamed
    // so far, sliced as the result's output_order will slice it at the end,
    // so the stream's sequence numbers hold across the run's end.
    if (!r.jid.empty() && !r.reported && r.reported_chunks.empty() && !node_status::terminal(r.status) &&
        r.stdout_text.empty() && r.stderr_text.empty()) {
        for (auto& [stream, data] : jobs_.live_output(r.jid)) {
            if (data.empty()) continue;
            (stream == "stderr" ? r.stderr_text : r.stdout_text) += data;
            r.order.emplace_back(stream, data.size());
        }
    }
    return r;
}

Poco::JSON::Object::Ptr Service::run(const std::string& id, const std::string& node) {
    auto job = require_job(id);
    require_node(job, node);
    return run_document(id, current_run(job, node));
}

Poco::JSON::Object::Ptr Service::cancel(const Poco::JSON::Object::Ptr& body) {
    only_keys(body, {"run_id", "nodes"});
    std::string id = string_field(body, "run_id");
    auto nodes = node_list(body, true);
    auto job = require_job(id);
    for (auto& n : nodes) require_node(job, n);
    if (nodes.empty()) nodes = job.nodes;
    std::vector<std::string> stopping;
    for (auto& n : nodes) {
        Run r = Run::from_cache_json(n, job.runs.count(n) ? job.runs[n] : "{}");
        if (node_status::terminal(r.status) || r.jid.empty()) continue;
        jobs_.cancel(r.jid);
        stopping.push_back(r.jid);
    }
    store_.set_updated(id, now_ms());
    // Answer with the outcome rather than "cancelling": a running command
    // gets SIGTERM within moments and SIGKILL after cancel_grace.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(settings_.cancel_grace + 5);
    while (!stopping.empty() && std::chrono::steady_clock::now() < until) {
        std::vector<std::string> open;
        for (auto& jid : stopping)
            if (auto rj = jobs_.run(jid); rj && !jobs::status::terminal(rj->status)) open.push_back(jid);
        stopping.swap(open);
        if (!stopping.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    job = require_job(id);
    return document(job);
}

Poco::JSON::Object::Ptr Service::stream(const std::string& id, const std::string& node,
                                        int64_t sequence, const std::string& type) {
    if (type != "stdout" && type != "stderr" && type != "both")
        throw DomainError(Errc::invalid, "output_type must be stdout, stderr or both");
    if (sequence < 0) throw DomainError(Errc::invalid, "sequence must be an integer >= 0");
    auto job = require_job(id);
    require_node(job, node);
    Run run = current_run(job, node);
    std::string output;
    int64_t last_seq = std::max<int64_t>(sequence - 1, 0), newest = 0;
    std::vector<Chunk> chunks;
    for (auto& c : chunks_of(run))
        if (type == "both" || c.type == type) chunks.push_back(std::move(c));
    auto seq_of = [&](const Chunk& c) { return type == "both" ? c.both_seq : c.seq; };
    // An agent's late chunk fills its gap: by sequence, not arrival.
    std::stable_sort(chunks.begin(), chunks.end(), [&](const Chunk& a, const Chunk& b) { return seq_of(a) < seq_of(b); });
    for (auto& c : chunks) {
        int64_t seq = seq_of(c);
        newest = seq;
        if (seq < sequence) continue;
        output += c.output;
        last_seq = seq;
    }
    Poco::JSON::Object::Ptr d = new Poco::JSON::Object;
    d->set("run_id", id);
    d->set("node_name", node);
    d->set("last_seq", last_seq);
    // No chunk comes after an ended run's last one.
    d->set("is_last", node_status::terminal(run.status) && last_seq >= newest);
    d->set("output_type", type);
    d->set("output", output);
    return d;
}

Poco::JSON::Array::Ptr Service::all_nodes(const std::string& url_base,
                                          const std::function<bool(const std::string&)>& visible) {
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (auto& s : store_.all_nodes())
        if (visible(s.node)) out->add(node_document(s, url_base + "/status/node/" + s.node + "/latest"));
    return out;
}

Poco::JSON::Array::Ptr Service::node_history(const std::string& node) {
    if (!valid_node_name(node)) throw DomainError(Errc::not_found, "no status for node " + node.substr(0, 64));
    auto h = store_.history(node, kHistory);
    if (h.empty()) throw DomainError(Errc::not_found, "no status for node " + node);
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (auto& s : h) out->add(node_document(s));
    return out;
}

Poco::JSON::Object::Ptr Service::node_latest(const std::string& node) {
    std::optional<NodeStatus> s;
    if (valid_node_name(node)) s = store_.node_status(node);
    if (!s) throw DomainError(Errc::not_found, "no status for node " + node.substr(0, 64));
    return node_document(*s);
}

}  // namespace exed::shovey
