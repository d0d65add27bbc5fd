#include "operate/submitter.hpp"

#include "errors.hpp"
#include "jobs/signature.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>
#include <set>

namespace exed::operate {

namespace {

// Hooks for calls made outside a job (target expansion): nothing to emit.
struct NoJobHooks : plugins::CallHooks {
    void emit(const std::string&) override {}
};

[[noreturn]] void plugin_refused(const plugins::OpResult& r) {
    int code = r.status == EXED_ERR_NOT_FOUND ? 404 : r.status == EXED_ERR_BAD_INPUT ? 400 : 500;
    throw ApiError(code, r.error);
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

Submitter::Submitter(const Settings& settings, plugins::Registry& registry, jobs::Store& store,
                     jobs::Locks& locks, jobs::Queue& queue, OnQueued on_queued)
    : settings_(settings), registry_(registry), store_(store), locks_(locks), queue_(queue),
      on_queued_(std::move(on_queued)) {}

plugins::PluginPtr Submitter::executor() const {
    auto p = registry_.find("executor", settings_.executor);
    if (!p)
        throw ApiError(503, "executor plugin '" + settings_.executor +
                                "' is not loaded (see GET /plugins and the error log)");
    return p;
}

std::vector<std::string> Submitter::expand(const std::vector<std::string>& patterns,
                                           int unmatched_status) {
    auto exec = executor();
    std::vector<std::string> hosts, unmatched;
    std::set<std::string> seen;
    NoJobHooks hooks;
    for (const auto& pattern : patterns) {
        Poco::JSON::Object args;
        args.set("pattern", pattern);
        auto r = exec->invoke("targets", jobs::json_string(args), hooks);
        if (!r.ok()) plugin_refused(r);
        Poco::JSON::Array::Ptr arr;
        try {
            arr = jobs::parse_json(r.result).extract<Poco::JSON::Array::Ptr>();
        } catch (const Poco::Exception&) {
            throw ApiError(500, "executor returned malformed targets for '" + pattern + "'");
        }
        if (arr->size() == 0) unmatched.push_back(pattern);
        for (size_t i = 0; i < arr->size(); ++i) {
            std::string h = arr->getElement<std::string>(i);
            if (seen.insert(h).second) hosts.push_back(h);
        }
    }
    if (!unmatched.empty()) {
        Poco::JSON::Object::Ptr extra = new Poco::JSON::Object;
        Poco::JSON::Array names;
        for (auto& u : unmatched) names.add(u);
        extra->set("unknown", names);
        throw ApiError(unmatched_status, "no such host: " + join(unmatched), extra);
    }
    return hosts;
}

plugins::PluginPtr Submitter::resolve(const Submission& s, jobs::Job& job) {
    if (s.operate != "release") {
        job.plugin_kind = "executor";
        job.plugin_type = settings_.executor;
        job.plugin_op = s.operate;
        return executor();
    }
    std::string type = s.args->getValue<std::string>("apptype");
    auto p = registry_.find("releaser", type);
    if (!p) {
        std::string known;
        for (auto& info : registry_.list("releaser")) known += (known.empty() ? "" : ", ") + info.type;
        throw ApiError(400, "unknown apptype '" + type + "' (known: " +
                                (known.empty() ? "none loaded" : known) + ")");
    }
    job.plugin_kind = "releaser";
    job.plugin_type = type;
    bool rollback = s.args->optValue<bool>("rollback", false);
    std::string revision = s.args->getValue<std::string>("revision");
    job.plugin_op = rollback ? "rollback" : revision == "?" ? "revision" : "release";
    if (job.plugin_op == "release" && revision.empty())
        throw ApiError(400, "revision must not be empty (use \"?\" to ask for the live revision)");
    return p;
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
        throw ApiError(503, "too many jobs waiting for a worker (" + std::to_string(backlog_.load()) +
                                " >= runner.max_queued); retry later");
}

jobs::Job Submitter::submit(const Submission& s) {
    check_backlog();
    jobs::Job job;
    auto plugin = resolve(s, job);
    job.targets = expand(s.patterns, s.sync ? 404 : 400);

    // What the plugin gets: the arguments plus the expanded targets.
    Poco::JSON::Object::Ptr full = new Poco::JSON::Object(*s.args);
    Poco::JSON::Array t;
    for (auto& h : job.targets) t.add(h);
    full->set("targets", t);
    auto c = plugin->check(job.plugin_op, jobs::json_string(full));
    if (!c.ok()) plugin_refused(c);

    job.jid = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    job.operate = s.operate;
    job.operate_args = jobs::json_string(s.args);
    job.created_ms = now_ms();
    job.run_timeout = s.run_timeout > 0 ? std::min(s.run_timeout, 7 * 86400) : settings_.run_timeout;
    job.signature = jobs::sign(settings_.job_secret, job);

    auto busy = locks_.acquire(job.targets, job.jid, settings_.lease * 1000);
    if (!busy.empty()) {
        Poco::JSON::Object::Ptr extra = new Poco::JSON::Object;
        Poco::JSON::Array b;
        for (auto& h : busy) b.add(h);
        extra->set("busy", b);
        throw ApiError(409, "operate conflict", extra);
    }
    try {
        store_.create(job);
        if (on_queued_) on_queued_(job.jid, job.targets);
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

std::optional<jobs::Job> Submitter::wait(const std::string& jid, int timeout_s) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
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
