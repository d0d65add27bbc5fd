#include "operate/submitter.hpp"

#include "catalogue.hpp"
#include "errors.hpp"
#include "jobs/signature.hpp"
#include "json.hpp"

#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <chrono>

namespace exed::operate {

namespace {

Errc errc_of(int exed_status) {
    switch (exed_status) {
        case EXED_ERR_BAD_INPUT: return Errc::invalid;
        case EXED_ERR_NOT_FOUND: return Errc::not_found;
        case EXED_ERR_UNSUPPORTED: return Errc::unsupported;
        case plugins::kStatusCrashed: return Errc::plugin_crashed;
        case plugins::kStatusBystander: return Errc::plugin_crashed;
        case plugins::kStatusHostDown: return Errc::unavailable;
        case plugins::kStatusTimedOut: return Errc::timeout;
        default: return Errc::internal;
    }
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

namespace {
thread_local std::chrono::steady_clock::time_point request_deadline = std::chrono::steady_clock::time_point::max();
}

RequestDeadline::RequestDeadline(std::chrono::steady_clock::time_point deadline) : previous_(request_deadline) {
    request_deadline = std::min(deadline, previous_);
}

RequestDeadline::~RequestDeadline() { request_deadline = previous_; }

std::chrono::steady_clock::time_point RequestDeadline::current() { return request_deadline; }

bool ended_by_crash(const jobs::Job& job) {
    return job.error.find(plugins::kHostCrashedError) != std::string::npos;
}

Submitter::Submitter(const Settings& settings, plugins::Registry& registry,
                     plugins::ExecutorClient& client, jobs::Store& store, jobs::Locks& locks,
                     jobs::Queue& queue, jobs::QueuedLeases& queued)
    : settings_(settings), registry_(registry), client_(client), store_(store), locks_(locks),
      queue_(queue), queued_(queued) {}

void Submitter::require_executor() const {
    if (!client_.available(client_.executor()))
        throw DomainError(Errc::unavailable,
                          "executor plugin '" + settings_.executor +
                              "' is not loaded (see GET /plugins and the error log)");
}

std::vector<std::string> Submitter::expand(const std::vector<std::string>& patterns) {
    require_executor();
    plugins::PrepareRequest request;
    request.patterns = patterns;
    request.deadline = RequestDeadline::current();
    auto p = client_.prepare(request);
    if (p.status != EXED_OK) throw DomainError(errc_of(p.status), p.error);
    return p.hosts;
}

void Submitter::resolve(const Submission& s, jobs::Job& job) {
    const auto* op = catalogue::find(s.operate);
    if (!op) throw DomainError(Errc::invalid, "unknown operation '" + s.operate + "'");
    job.plugin_kind = catalogue::kind_name(op->kind);
    if (op->kind == catalogue::Kind::Executor) {
        require_executor();
        job.plugin_type = settings_.executor;
        job.plugin_op = catalogue::plugin_op_for(*op, false, "");
        return;
    }
    std::string type = s.args->getValue<std::string>(catalogue::arg::apptype);
    if (!client_.available({job.plugin_kind, type})) {
        std::string known;
        for (auto& info : registry_.list(job.plugin_kind)) known += (known.empty() ? "" : ", ") + info.type;
        throw DomainError(Errc::invalid, "unknown apptype '" + type + "' (known: " +
                                             (known.empty() ? "none loaded" : known) + ")");
    }
    job.plugin_type = type;
    bool rollback = s.args->optValue<bool>(catalogue::arg::rollback, false);
    std::string revision = s.args->getValue<std::string>(catalogue::arg::revision);
    job.plugin_op = catalogue::plugin_op_for(*op, rollback, revision);
    if (!rollback && revision.empty())
        throw DomainError(Errc::invalid,
                          "revision must not be empty (use \"?\" to ask for the live revision)");
    require_executor();  // it expands the targets
}

void Submitter::check_backlog() {
    // XLEN is cheap, but not free under thousands of submits per second:
    // a value at most 100 ms old is good enough for back-pressure.
    int64_t now = now_ms();
    if (now - backlog_checked_ms_.load() > 100) {
        backlog_checked_ms_ = now;
        backlog_ = queue_.backlog();
    }
    if (backlog_.load() >= settings_.max_queued)
        throw DomainError(Errc::unavailable, "too many jobs waiting for a worker (" +
                                                 std::to_string(backlog_.load()) +
                                                 " >= runner.max_queued); retry later");
}

jobs::Job Submitter::prepare(const Submission& s) {
    jobs::Job job;
    resolve(s, job);

    plugins::PrepareRequest request{{job.plugin_kind, job.plugin_type}, job.plugin_op, s.patterns,
                                    json_string(s.args), std::min(s.deadline, RequestDeadline::current())};
    auto prepared = client_.prepare(request);
    if (prepared.status != EXED_OK) throw DomainError(errc_of(prepared.status), prepared.error);
    if (!prepared.unmatched.empty()) {
        DomainError e(s.sync ? Errc::not_found : Errc::invalid,
                      "no such host: " + join(prepared.unmatched));
        e.hosts = prepared.unmatched;
        throw e;
    }
    job.targets = std::move(prepared.hosts);
    job.operate_args = std::move(prepared.document);
    job.operate = s.operate;
    return job;
}

jobs::Job Submitter::submit(const Submission& s) {
    check_backlog();
    jobs::Job job = prepare(s);
    job.jid = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    job.created_ms = now_ms();
    job.run_timeout = s.run_timeout > 0 ? std::min(s.run_timeout, 7 * 86400) : settings_.run_timeout;
    job.signature = jobs::sign(settings_.job_secret, job);

    auto busy = locks_.acquire(job.targets, job.jid, settings_.lease * 1000);
    if (!busy.empty()) {
        DomainError e(Errc::conflict, "operate conflict");
        e.hosts = busy;
        throw e;
    }
    try {
        store_.create(job);
        queued_.add(job.jid, job.targets);
        queue_.push(job.jid);
    } catch (...) {
        // Nothing may stay locked for a job that does not exist.
        try {
            locks_.release(job.targets, job.jid);
            store_.finish(job.jid, jobs::Failure, jobs::status::failed, "could not be queued", {},
                          job.targets);
        } catch (...) {
        }
        throw;
    }
    return job;
}

std::optional<std::vector<NodeState>> Submitter::node_states() {
    require_executor();
    return plugins::executor_nodes(client_);
}

std::optional<jobs::Job> Submitter::wait(const std::string& jid, std::chrono::steady_clock::time_point until) {
    std::string last = "0";
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        until - std::chrono::steady_clock::now()).count();
        if (left <= 0) return std::nullopt;
        for (auto& e : store_.events(jid, last, 100, int(std::min<int64_t>(left, 1000)))) {
            last = e.id;
            if (e.type == "end") return store_.get(jid);
        }
    }
}

}  // namespace exed::operate
