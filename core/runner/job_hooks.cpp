#include "runner/job_hooks.hpp"

#include "catalogue.hpp"
#include "json.hpp"
#include "plugins/run_executor.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <thread>

#include <signal.h>

namespace exed::runner {

JobHooks::JobHooks(jobs::Store& store, plugins::ExecutorClient& client, std::string jid,
                   int64_t deadline_epoch_s, std::chrono::steady_clock::time_point defer_until,
                   GroupRecord* record)
    : store_(store), client_(client), jid_(std::move(jid)), deadline_(deadline_epoch_s), record_(record),
      defer_until_(defer_until) {}

JobHooks::~JobHooks() {
    // The job ended: a group its plugin never untracked is not a lost job's
    // (nothing of it is killed at a later start).
    if (record_)
        for (pid_t g : groups_) record_->remove(g);
}

void JobHooks::emit(const std::string& event_json) {
    {
        std::lock_guard<std::mutex> l(mutex_);
        events_.push_back(event_json);
        event_bytes_ += event_json.size();
        size_t drop = 0;
        while (event_bytes_ > kKeptEventBytes && drop + 1 < events_.size())
            event_bytes_ -= events_[drop++].size();
        events_.erase(events_.begin(), events_.begin() + long(drop));
    }
    std::lock_guard<std::mutex> w(write_mutex_);
    if (deferring_ && std::chrono::steady_clock::now() < defer_until_) {
        deferred_.push_back(event_json);
        return;
    }
    write_deferred();  // earlier events first
    write_event(event_json);
}

void JobHooks::write_event(const std::string& event_json) {
    // A Redis outage must not lose the event: the plugin waits (up to 60 s),
    // which is the right back-pressure for a job whose history is its point.
    for (int attempt = 0;; ++attempt) {
        try {
            store_.append_event(jid_, "host", event_json);
            return;
        } catch (const std::exception& e) {
            if (attempt >= 120) {
                Poco::Logger::get("exed.runner").error("[" + jid_ + "] event lost: " + e.what());
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
}

void JobHooks::write_deferred() {
    auto held = std::move(deferred_);
    deferred_.clear();
    for (auto& e : held) write_event(e);
}

std::vector<std::string> JobHooks::take_deferred() {
    std::lock_guard<std::mutex> w(write_mutex_);
    deferring_ = false;
    auto held = std::move(deferred_);
    deferred_.clear();
    return held;
}

void JobHooks::flush_deferred() {
    // try_lock: the watchdog never waits for a plugin's slow write. One
    // attempt per event: during an outage the rest waits for the next tick
    // (or the settle), and the watchdog goes on with its other work.
    std::unique_lock<std::mutex> w(write_mutex_, std::try_to_lock);
    if (!w.owns_lock() || deferred_.empty() || std::chrono::steady_clock::now() < defer_until_) return;
    size_t done = 0;
    try {
        for (; done < deferred_.size(); ++done) store_.append_event(jid_, "host", deferred_[done]);
    } catch (const std::exception&) {
    }
    deferred_.erase(deferred_.begin(), deferred_.begin() + long(done));
}

void JobHooks::track_process(pid_t pgid) {
    std::lock_guard<std::mutex> l(mutex_);
    groups_.insert(pgid);
    // Recorded before anything else can happen to it: if exed dies now, the
    // next exed ends it before the job's locks can be freed.
    if (record_) record_->add(jid_, pgid);
    // Started after a stop was asked for: it must not outlive the job.
    if (stop_) kill(-pgid, SIGTERM);
}

void JobHooks::untrack_process(pid_t pgid) {
    std::lock_guard<std::mutex> l(mutex_);
    groups_.erase(pgid);
    if (record_) record_->remove(pgid);
}

int JobHooks::run_executor(const std::string& request_json, std::string& out) {
    return plugins::run_executor_request(client_, request_json, out, *this);
}

void JobHooks::signal_all(int sig) {
    std::lock_guard<std::mutex> l(mutex_);
    for (pid_t g : groups_) kill(-g, sig);
}

void JobHooks::stop(const std::string& reason) {
    std::function<void()> forward;
    {
        std::lock_guard<std::mutex> l(mutex_);
        if (stop_) return;
        reason_ = reason;
        stopped_at_ = std::chrono::steady_clock::now();
        stop_ = true;
        forward = forward_stop_;
    }
    if (forward) forward();  // the plugin host flags the cancel, then sends SIGTERM
    else signal_all(SIGTERM);
}

void JobHooks::forward_stop(std::function<void()> forward) {
    bool stopped;
    {
        std::lock_guard<std::mutex> l(mutex_);
        forward_stop_ = forward;
        stopped = stop_;
    }
    if (stopped && forward) forward();  // stopped before the op began
}

void JobHooks::kill_remaining() { signal_all(SIGKILL); }

std::string JobHooks::stop_reason() const {
    std::lock_guard<std::mutex> l(mutex_);
    return reason_;
}

std::chrono::steady_clock::time_point JobHooks::stopped_at() const {
    std::lock_guard<std::mutex> l(mutex_);
    return stopped_at_;
}

std::vector<std::string> JobHooks::host_events() const {
    std::lock_guard<std::mutex> l(mutex_);
    return events_;
}

}  // namespace exed::runner
