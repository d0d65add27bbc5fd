#include "runner/runner.hpp"

#include "jobs/signature.hpp"
#include "operate/validate.hpp"

#include <Poco/Environment.h>
#include <Poco/JSON/Array.h>
#include <Poco/Logger.h>
#include <Poco/Process.h>

#include <fmt/format.h>

#include <chrono>

namespace exed::runner {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.runner"); }
using Clock = std::chrono::steady_clock;

int64_t now_s() { return int64_t(time(nullptr)); }

// A job fails when the plugin failed or any host ended Failed/Unreachable.
std::vector<std::string> failed_hosts(const std::map<std::string, std::string>& results) {
    std::vector<std::string> out;
    for (const auto& [host, json] : results) {
        try {
            auto o = jobs::parse_json(json).extract<Poco::JSON::Object::Ptr>();
            int st = o->has("status") ? o->getValue<int>("status") : o->optValue<int>("state", 0);
            if (st == jobs::Failed || st == jobs::Unreachable) out.push_back(host);
        } catch (const Poco::Exception&) {
        }
    }
    return out;
}

std::map<std::string, std::string> per_host(const std::string& result_json) {
    std::map<std::string, std::string> out;
    if (result_json.empty()) return out;
    try {
        auto o = jobs::parse_json(result_json).extract<Poco::JSON::Object::Ptr>();
        for (const auto& [host, body] : *o) out[host] = jobs::json_string(body);
    } catch (const Poco::Exception&) {
        out["_result"] = result_json;  // not keyed by host: keep it whole
    }
    return out;
}

}  // namespace

Runner::Runner(const Settings& settings, plugins::Registry& registry, jobs::Store& store,
               jobs::Locks& locks, jobs::Queue& queue, std::string consumer_prefix)
    : settings_(settings), registry_(registry), store_(store), locks_(locks), queue_(queue),
      prefix_(std::move(consumer_prefix)) {}

Runner::~Runner() { stop(); }

void Runner::start(int workers) {
    running_ = true;
    workers_ = workers;
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { worker_loop(i); });
    threads_.emplace_back([this] { watchdog_loop(); });
}

void Runner::stop() {
    if (!running_.exchange(false)) return;
    {
        std::lock_guard<std::mutex> l(mutex_);
        for (auto& [jid, a] : active_) a.hooks->stop("exed was stopped while the job ran");
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
}

void Runner::hold_queued(const std::string& jid, const std::vector<std::string>& hosts) {
    std::lock_guard<std::mutex> l(mutex_);
    queued_[jid] = hosts;
}

void Runner::worker_loop(int index) {
    std::string consumer = fmt::format("{}-w{}", prefix_, index);
    while (running_) {
        try {
            std::optional<jobs::QueueEntry> entry;
            {
                std::lock_guard<std::mutex> l(mutex_);
                if (!reclaimed_.empty()) {
                    entry = reclaimed_.front();
                    reclaimed_.pop_front();
                }
            }
            if (entry) {
                run_entry(*entry, consumer, true);
                continue;
            }
            entry = queue_.next(consumer, 1000);
            if (entry) run_entry(*entry, consumer, false);
        } catch (const std::exception& e) {
            logger().error(fmt::format("worker {}: {} (retrying in 1 s)", consumer, e.what()));
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }
}

void Runner::finish_failed(const jobs::Job& job, const std::string& entry_id,
                           const std::string& error, const std::string& status) {
    store_.finish(job.jid, jobs::Failure, status, error, {}, job.targets);
    queue_.done(entry_id);
    logger().warning(fmt::format("[{}] {}: {}", job.jid, status, error));
}

void Runner::run_entry(const jobs::QueueEntry& entry, const std::string& consumer, bool reclaimed) {
    auto job = store_.get(entry.jid);
    if (!job || jobs::status::terminal(job->status)) {  // expired, deleted or already ended
        queue_.done(entry.id);
        return;
    }
    {
        std::lock_guard<std::mutex> l(mutex_);
        queued_.erase(job->jid);
        if (active_.count(job->jid)) return;  // already running here (double delivery)
    }
    if (!jobs::signature_valid(settings_.job_secret, *job)) {
        finish_failed(*job, entry.id,
                      "refused: the job's signature does not match this worker's job secret");
        return;
    }
    if (reclaimed && job->status == jobs::status::running && !operate::read_only(job->operate)) {
        finish_failed(*job, entry.id,
                      fmt::format("worker {} was lost while running the job", job->worker));
        return;
    }
    std::string st = store_.start(job->jid, consumer, now_s());
    if (st == "cancel") {
        store_.finish(job->jid, jobs::Failure, jobs::status::cancelled, "cancelled", {}, job->targets);
        queue_.done(entry.id);
        return;
    }
    if (st != "ok") {
        queue_.done(entry.id);
        return;
    }
    // The locks were leased at submit; re-take them in case the lease ran
    // out while queued (re-entrant for this job, refused if someone else has them).
    auto busy = locks_.acquire(job->targets, job->jid, settings_.lease * 1000);
    if (!busy.empty()) {
        std::string hosts;
        for (auto& h : busy) hosts += (hosts.empty() ? "" : ", ") + h;
        finish_failed(*job, entry.id, "operate conflict: " + hosts + " taken while the job was queued");
        return;
    }
    if (reclaimed) logger().warning(fmt::format("[{}] rerunning read-only job of a lost worker", job->jid));
    execute(*job, entry.id, consumer);
}

void Runner::execute(jobs::Job job, const std::string& entry_id, const std::string& consumer) {
    int64_t started = now_s();
    auto hooks = std::make_shared<JobHooks>(store_, registry_, settings_.executor, job.jid,
                                            started + job.run_timeout);
    {
        std::lock_guard<std::mutex> l(mutex_);
        active_[job.jid] = Active{job, entry_id, consumer, hooks};
    }
    Poco::JSON::Object ev;
    ev.set("status", jobs::status::running);
    ev.set("worker", consumer);
    try {
        store_.append_event(job.jid, "state", jobs::json_string(ev));
    } catch (const std::exception& e) {
        logger().warning(fmt::format("[{}] state event not recorded: {}", job.jid, e.what()));
    }

    plugins::OpResult r;
    auto plugin = registry_.find(job.plugin_kind, job.plugin_type);
    if (!plugin) {
        r.status = EXED_ERR;
        r.error = fmt::format("{} plugin '{}' is not loaded on worker {}", job.plugin_kind,
                              job.plugin_type, consumer);
    } else {
        // The plugin gets the request's arguments plus the expanded targets.
        Poco::JSON::Object::Ptr args = new Poco::JSON::Object;
        try {
            args = jobs::parse_json(job.operate_args).extract<Poco::JSON::Object::Ptr>();
        } catch (const Poco::Exception&) {
        }
        Poco::JSON::Array t;
        for (auto& h : job.targets) t.add(h);
        args->set("targets", t);
        logger().information(fmt::format("[{}] {} on {} host(s) by {}", job.jid, job.operate,
                                         job.targets.size(), consumer));
        r = plugin->invoke(job.plugin_op, jobs::json_string(args), *hooks);
    }

    auto results = per_host(r.result);
    if (results.empty()) results = hooks->host_results();
    int state = jobs::Done;
    std::string status = jobs::status::done, error;
    if (hooks->stopping() && !r.ok()) {
        state = jobs::Failure;
        error = hooks->stop_reason();
        status = error == "cancelled" ? jobs::status::cancelled : jobs::status::failed;
    } else if (!r.ok()) {
        state = jobs::Failure;
        status = jobs::status::failed;
        error = r.error;
    } else if (auto failed = failed_hosts(results); !failed.empty()) {
        state = jobs::Failure;
        status = jobs::status::failed;
        error = "failed on " + std::to_string(failed.size()) + " host(s): ";
        for (size_t i = 0; i < failed.size(); ++i) error += (i ? ", " : "") + failed[i];
    }
    {
        std::lock_guard<std::mutex> l(mutex_);
        active_.erase(job.jid);
    }
    // Redis may be briefly away: the end of a job must not be lost.
    for (int attempt = 0;; ++attempt) {
        try {
            store_.finish(job.jid, state, status, error, results, job.targets);
            queue_.done(entry_id);
            break;
        } catch (const redis::Unavailable& e) {
            if (attempt >= 30 || !running_) {
                logger().error(fmt::format("[{}] could not record the end: {}; the lease will "
                                           "expire and another worker will settle it", job.jid, e.what()));
                break;
            }
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }
    logger().information(fmt::format("[{}] {} {}{}", job.jid, job.operate, status,
                                     error.empty() ? "" : ": " + error));
}

void Runner::watchdog_loop() {
    auto last_renew = Clock::now(), last_reclaim = Clock::now(), last_trim = Clock::now();
    // During an outage every tick fails the same way: say so once, then
    // every 30 s, and once more when it is over.
    std::string failing;
    auto last_warned = Clock::now() - std::chrono::hours(1);
    const auto renew_every = std::chrono::milliseconds(settings_.lease * 1000 / 3);
    const auto reclaim_every = std::chrono::milliseconds(settings_.lease * 1000 / 2);
    while (running_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        try {
            watch_active();
            auto now = Clock::now();
            if (now - last_renew >= renew_every) {
                last_renew = now;
                renew_leases();
            }
            if (now - last_reclaim >= reclaim_every) {
                last_reclaim = now;
                reclaim();
            }
            if (now - last_trim >= std::chrono::minutes(1)) {
                last_trim = now;
                store_.trim_index();
            }
            if (!failing.empty()) {
                logger().information("watchdog: redis is back");
                failing.clear();
            }
        } catch (const std::exception& e) {
            if (e.what() != failing || Clock::now() - last_warned > std::chrono::seconds(30)) {
                logger().warning(std::string("watchdog: ") + e.what());
                last_warned = Clock::now();
            }
            failing = e.what();
        }
    }
}

// Cancel requests and run_timeout: stop the plugin, SIGTERM its process
// groups, SIGKILL after the grace period.
void Runner::watch_active() {
    std::vector<Active> snapshot;
    {
        std::lock_guard<std::mutex> l(mutex_);
        for (auto& [jid, a] : active_) snapshot.push_back(a);
    }
    for (auto& a : snapshot) {
        if (!a.hooks->stopping()) {
            if (store_.cancel_requested(a.job.jid)) a.hooks->stop("cancelled");
            else if (now_s() >= a.hooks->deadline())
                a.hooks->stop(fmt::format("run_timeout of {} s exceeded", a.job.run_timeout));
        } else if (Clock::now() - a.hooks->stopped_at() >= std::chrono::seconds(settings_.cancel_grace)) {
            a.hooks->kill_remaining();
        }
    }
}

void Runner::renew_leases() {
    std::vector<Active> running;
    std::map<std::string, std::vector<std::string>> queued;
    {
        std::lock_guard<std::mutex> l(mutex_);
        for (auto& [jid, a] : active_) running.push_back(a);
        queued = queued_;
    }
    int lease_ms = settings_.lease * 1000;
    for (auto& a : running) {
        auto lost = locks_.renew(a.job.targets, a.job.jid, lease_ms);
        if (!lost.empty()) logger().error(fmt::format("[{}] lost host locks", a.job.jid));
        queue_.heartbeat(a.consumer, a.entry_id);
    }
    for (auto& [jid, hosts] : queued) {
        if (store_.status(jid) == jobs::status::queued) {
            locks_.renew(hosts, jid, lease_ms);
        } else {
            std::lock_guard<std::mutex> l(mutex_);
            queued_.erase(jid);
        }
    }
}

void Runner::reclaim() {
    if (workers_ == 0) return;  // nobody here could run what we claim
    auto entries = queue_.reclaim(prefix_ + "-reclaim", settings_.lease * 1000, 10);
    if (entries.empty()) return;
    std::lock_guard<std::mutex> l(mutex_);
    for (auto& e : entries) {
        logger().warning(fmt::format("[{}] reclaimed from a worker that stopped heartbeating", e.jid));
        reclaimed_.push_back(e);
    }
}

}  // namespace exed::runner
