#include "salt_job_runner.hpp"

#include "salt_event_stream.hpp"

#include <fmt/format.h>

#include <chrono>
#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <thread>

namespace exed::salt {

namespace {

using Clock = std::chrono::steady_clock;

// How long one wait for events lasts: the latency of a cancel.
constexpr std::chrono::milliseconds slice(200);

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

}  // namespace

Object::Ptr local_lowstate(const std::string& client, const std::vector<std::string>& minions,
                           const std::string& fun, const Array::Ptr& arg,
                           const Object::Ptr& kwarg) {
    Object::Ptr low = new Object;
    Array::Ptr tgt = new Array;
    for (auto& m : minions) tgt->add(m);
    low->set("client", client);
    low->set("tgt", tgt);
    // An explicit list: a minion id is never read as a glob or a compound.
    low->set("tgt_type", std::string("list"));
    low->set("fun", fun);
    if (arg && arg->size()) low->set("arg", arg);
    if (kwarg && kwarg->size()) low->set("kwarg", kwarg);
    return low;
}

void JobRunner::run(const std::vector<std::string>& targets, const std::string& fun,
                    const Array::Ptr& arg, const Object::Ptr& kwarg, const OnOutcome& on_outcome) {
    size_t per_batch = batch_size(api_.config().batch, targets.size());
    if (per_batch == 0 || per_batch >= targets.size()) {
        run_batch(targets, fun, arg, kwarg, on_outcome);
        return;
    }
    // Our own batching rather than salt's local_batch client: that one is
    // synchronous and would hide per-minion results until the very end.
    for (size_t i = 0; i < targets.size(); i += per_batch) {
        std::vector<std::string> part(targets.begin() + long(i),
                                      targets.begin() + long(std::min(targets.size(), i + per_batch)));
        run_batch(part, fun, arg, kwarg, on_outcome);
    }
}

void JobRunner::run_batch(const std::vector<std::string>& targets, const std::string& fun,
                          const Array::Ptr& arg, const Object::Ptr& kwarg,
                          const OnOutcome& on_outcome) {
    const SaltConfig& cfg = api_.config();
    stop_if_asked("", {});

    // Subscribe before submitting, so no return can slip past us.
    std::unique_ptr<EventStream> events;
    if (cfg.use_events) {
        try {
            events = std::make_unique<EventStream>(api_);
        } catch (const Error& e) {
            call_.log(EXED_LOG_WARNING, std::string(e.what()) + "; polling jobs.lookup_jid instead");
        }
    }

    // salt-api down here fails the job at once: nothing runs yet.
    Var sub = api_.run(local_lowstate("local_async", targets, fun, arg, kwarg));
    const auto submitted = Clock::now();
    auto subobj = as_object(sub);
    std::string jid = subobj ? subobj->optValue<std::string>("jid", "") : "";
    std::set<std::string> pending;
    if (!jid.empty())
        for (auto& m : string_list(subobj->get("minions"))) pending.insert(m);
    if (jid.empty() && subobj == nullptr && sub.isString())
        throw Error(fmt::format("salt refused {}: {}", fun, sub.toString()));

    // Targets the master does not know (no accepted key) are not in the job.
    for (auto& t : targets) {
        if (pending.count(t)) continue;
        MinionOutcome o;
        o.minion = t;
        o.error = "no accepted key for this minion on the salt master";
        on_outcome(o);
    }
    if (jid.empty() || pending.empty()) return;
    call_.log(EXED_LOG_DEBUG, fmt::format("salt job {} runs {} on {} minion(s)", jid, fun,
                                          pending.size()));

    auto deliver = [&](const std::string& minion, const Var& value, const Var* event_data) {
        if (!pending.erase(minion)) return;  // not ours, or already reported
        MinionOutcome o;
        o.minion = minion;
        o.returned = true;
        o.value = value;
        if (auto ev = event_data ? as_object(*event_data) : nullptr) {
            if (ev->has("retcode") && ev->get("retcode").isInteger()) {
                o.has_retcode = true;
                o.retcode = ev->getValue<int>("retcode");
            }
        }
        on_outcome(o);
    };
    auto deliver_cache = [&](const Object::Ptr& cached) {
        if (!cached) return;
        for (auto& m : std::vector<std::string>(pending.begin(), pending.end()))
            if (cached->has(m)) deliver(m, cached->get(m), nullptr);
    };
    auto still_running = [&] { return std::vector<std::string>(pending.begin(), pending.end()); };
    auto unreachable = [&](const std::string& m, const std::string& error) {
        pending.erase(m);
        MinionOutcome o;
        o.minion = m;
        o.error = error;
        on_outcome(o);
    };

    const auto timeout = std::chrono::seconds(cfg.timeout);
    const auto poll_every = std::chrono::milliseconds(long(cfg.poll_interval * 1000));
    auto next_check = Clock::now() + timeout;
    auto next_poll = Clock::now() + poll_every;
    auto backoff = std::chrono::milliseconds(0);  // > 0 while salt-api is away
    while (!pending.empty()) {
        stop_if_asked(jid, still_running());
        try {
            if (events && events->alive()) {
                for (auto& ev : events->take(slice)) {
                    if (ev.jid != jid) continue;
                    auto data = as_object(ev.data);
                    deliver(ev.minion, data ? data->get("return") : Var(), &ev.data);
                }
            } else {
                // No event stream (or it broke): the job cache has the returns.
                pause(std::min<std::chrono::milliseconds>(slice, poll_every));
                if (Clock::now() >= next_poll) {
                    deliver_cache(lookup_jid(jid));
                    next_poll = Clock::now() + poll_every;
                }
            }
            if (!pending.empty() && Clock::now() >= next_check) {
                // Silent for `timeout`: who still runs the job, who is gone?
                Object::Ptr running = find_job(jid, still_running());
                deliver_cache(lookup_jid(jid));  // returns that raced the question
                long waited = long(std::chrono::duration_cast<std::chrono::seconds>(
                                       Clock::now() - submitted).count());
                for (auto& m : still_running()) {
                    // {"pid","fun","jid",…}: at work. {}: up, not running it.
                    // false (key, no answer) or "Minion did not return…"
                    // (no key) or nothing at all: down or unreachable.
                    auto job = running ? as_object(running->get(m)) : nullptr;
                    if (job && job->size() > 0) continue;
                    unreachable(m, job ? "minion is not running the job and returned nothing"
                                       : fmt::format("minion did not return within {} s and does "
                                                     "not answer (down or unreachable)", waited));
                }
                next_check = Clock::now() + timeout;
            }
            if (backoff.count() > 0) {
                call_.log(EXED_LOG_INFO, fmt::format("salt-api is back; still waiting for salt "
                                                     "job {}", jid));
                backoff = std::chrono::milliseconds(0);
            }
        } catch (const Interrupted&) {
            // cancel or run_timeout: the loop's first line acts on it
        } catch (const ApiUnreachable& e) {
            // The salt job runs on while salt-api restarts: wait for it (and
            // keep the hosts locked) until the job's own deadline.
            if (backoff.count() == 0)
                call_.log(EXED_LOG_WARNING, fmt::format("{}; salt job {} keeps running, retrying "
                                                        "salt-api until the job's deadline",
                                                        e.what(), jid));
            backoff = std::min<std::chrono::milliseconds>(
                std::chrono::milliseconds(5000),
                backoff.count() ? backoff * 2 : std::chrono::milliseconds(250));
            pause(backoff);
        }
    }
}

bool JobRunner::stop_requested() const {
    int64_t deadline = call_.deadline();
    return call_.cancelled() || (deadline > 0 && int64_t(std::time(nullptr)) >= deadline);
}

void JobRunner::pause(std::chrono::milliseconds d) const {
    auto until = Clock::now() + d;
    while (Clock::now() < until && !stop_requested())
        std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50),
                                                              until - Clock::now()));
}

void JobRunner::stop_if_asked(const std::string& jid, const std::vector<std::string>& running) {
    int64_t deadline = call_.deadline();
    bool timed_out = deadline > 0 && int64_t(std::time(nullptr)) >= deadline;
    if (!timed_out && !call_.cancelled()) return;
    if (!jid.empty() && !running.empty()) kill_job(jid, running);
    if (timed_out)
        throw Error(jid.empty() ? std::string("run_timeout reached before the salt job started")
                                : fmt::format("run_timeout reached: salt job {} killed on {}",
                                              jid, joined(running)));
    throw Cancelled();
}

void JobRunner::kill_job(const std::string& jid, const std::vector<std::string>& minions) {
    Array::Ptr arg = new Array;
    arg->add(jid);
    try {
        // Asynchronous: the minions act on it, we do not wait for their word.
        api_.run(local_lowstate("local_async", minions, "saltutil.kill_job", arg, nullptr));
        call_.log(EXED_LOG_INFO, fmt::format("sent saltutil.kill_job {} to {}", jid,
                                             joined(minions)));
    } catch (const std::exception& e) {
        call_.log(EXED_LOG_ERROR, fmt::format("saltutil.kill_job {} failed: {}", jid, e.what()));
    }
}

Object::Ptr job_cache_returns(const Var& lookup_answer) {
    auto answer = as_object(lookup_answer);
    if (answer && answer->size() == 2 && answer->get("outputter").isString() &&
        as_object(answer->get("data")))
        return as_object(answer->get("data"));
    return answer;  // plain {minion: return}; nullptr when odd
}

Object::Ptr JobRunner::lookup_jid(const std::string& jid) {
    Object::Ptr low = new Object;
    low->set("client", std::string("runner"));
    low->set("fun", std::string("jobs.lookup_jid"));
    low->set("jid", jid);
    return job_cache_returns(api_.run(low, [this] { return stop_requested(); }));
}

Object::Ptr JobRunner::find_job(const std::string& jid, const std::vector<std::string>& minions) {
    Array::Ptr arg = new Array;
    arg->add(jid);
    Object::Ptr low = local_lowstate("local", minions, "saltutil.find_job", arg, nullptr);
    // The master holds this request for down minions for timeout +
    // gather_job_timeout (5 + 10 s by its defaults): split our own timeout
    // between the two so the answer comes within max(2, timeout) s.
    int for_returns = std::max(1, api_.config().timeout / 2);
    low->set("timeout", for_returns);
    low->set("gather_job_timeout", std::max(1, api_.config().timeout - for_returns));
    return as_object(api_.run(low, [this] { return stop_requested(); }));
}

}  // namespace exed::salt
