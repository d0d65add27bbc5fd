#include "agent/agent_loop.hpp"

#include "agent/agent_tls.hpp"
#include "agent/child_process.hpp"
#include "agent/facts.hpp"
#include "wire_commands.hpp"

#include <Poco/Buffer.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/PollSet.h>
#include <Poco/Random.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <fcntl.h>
#include <unistd.h>

namespace exed::agent {

namespace {

using Clock = std::chrono::steady_clock;

// Ended runs are kept this long (the window a signed command is valid in),
// at most kMaxEnded of them, each retaining at most kMaxLogBytes of its
// messages and all of them kMaxRetainedBytes (past that, output is still
// sent, no longer retained; an attach says how much is missing).
constexpr int kRetainSeconds = 15 * 60;
constexpr size_t kMaxEnded = 2000;
constexpr size_t kMaxLogBytes = 8 << 20;
constexpr size_t kMaxRetainedBytes = 64 << 20;  // all runs' logs together

std::string json_of(const Poco::JSON::Object& o) {
    std::ostringstream s;
    o.stringify(s);
    return s.str();
}

std::string now_rfc3339() {
    return Poco::DateTimeFormatter::format(Poco::Timestamp(), Poco::DateTimeFormat::ISO8601_FRAC_FORMAT);
}

Poco::JSON::Object run_message(const std::string& type, const std::string& run_id) {
    Poco::JSON::Object o;
    o.set("type", type);
    o.set("run_id", run_id);
    return o;
}

void log_line(const std::string& line) { std::cerr << "exed agent: " << line << std::endl; }

}  // namespace

AgentLoop::AgentLoop(const AgentConfig& config)
    : config_(config), guard_(config.state_dir, log_line), verifier_(config, guard_) {
    auto tls = client_tls_context(config);  // one context for every link
    for (auto& n : config.node_names()) links_.push_back(std::make_unique<NodeLink>(config, n, tls));
    // New node keys reach the disk before they are used: one syncfs of the
    // state_dir's file system for `instances = N` new keys (an fsync each
    // cost ~5 ms per key here).
    for (auto& l : links_)
        if (l->key_created()) {
            int fd = ::open(config.state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0) {
                ::syncfs(fd);
                ::close(fd);
            }
            break;
        }
}

size_t AgentLoop::running() const {
    std::lock_guard<std::mutex> lock(runs_mutex_);
    size_t n = 0;
    for (auto& [_, r] : runs_) n += r->ended ? 0 : 1;
    return n;
}

void AgentLoop::forget_old_runs() {
    // A pass over every run: at most once a second (a fan-out to 1,000
    // emulated nodes starts 1,000 runs at once).
    auto now = Clock::now();
    if (now - last_forget_ < std::chrono::seconds(1)) return;
    last_forget_ = now;
    auto too_old = now - std::chrono::seconds(kRetainSeconds);
    std::vector<std::pair<Clock::time_point, std::string>> ended;
    for (auto it = runs_.begin(); it != runs_.end();) {
        if (it->second->ended && it->second->ended_at < too_old) {
            it = erase_run(it);
            continue;
        }
        if (it->second->ended) ended.emplace_back(it->second->ended_at, it->first);
        ++it;
    }
    if (ended.size() <= kMaxEnded) return;
    std::sort(ended.begin(), ended.end());
    for (size_t i = 0; i + kMaxEnded < ended.size(); ++i) erase_run(runs_.find(ended[i].second));
}

std::map<std::string, std::shared_ptr<AgentLoop::Run>>::iterator AgentLoop::erase_run(
    std::map<std::string, std::shared_ptr<Run>>::iterator it) {
    {
        std::lock_guard<std::mutex> lock(it->second->mutex);
        retained_bytes_ -= it->second->log_bytes;
        it->second->log.clear();
        it->second->log_bytes = 0;
    }
    return runs_.erase(it);
}

void AgentLoop::send_and_keep(NodeLink& link, Run& run, const std::string& run_id, const std::string& json,
                              bool droppable) {
    std::lock_guard<std::mutex> lock(run.mutex);
    bool fits = run.log_bytes + json.size() <= kMaxLogBytes && retained_bytes_ + json.size() <= kMaxRetainedBytes;
    if (fits || !droppable) {  // ack and end are always kept
        run.log.emplace_back(json, droppable);
        run.log_bytes += json.size();
        retained_bytes_ += json.size();
    } else {
        run.not_kept += json.size();
    }
    link.send_run_message(run_id, json, droppable);
}

struct AgentLoop::Polling {
    Poco::Net::PollSet polled;
    std::unordered_map<Poco::Net::SocketImpl*, NodeLink*> by_socket;
    Poco::Random jitter;
    std::string last_error;  // said once, not at every redial

    void forget(NodeLink& link) {
        by_socket.erase(link.socket()->impl());
        polled.remove(*link.socket());
        link.disconnect();
    }
};

void AgentLoop::run(const std::atomic<bool>& stop) {
    Polling p;
    p.jitter.seed();
    auto next_heartbeat = Clock::now();
    while (!stop) {
        keep_links_up(p);
        auto now = Clock::now();
        if (now >= next_heartbeat) {
            for (auto& l : links_)
                if (l->connected()) l->send_now(R"({"type":"heartbeat"})");
            next_heartbeat = now + std::chrono::milliseconds(long(config_.heartbeat_s * 1000));
        }
        read_ready(p);
        run_accepted();
    }
    wind_down();
}

void AgentLoop::keep_links_up(Polling& p) {
    auto now = Clock::now();
    for (auto& l : links_) {
        if (l->socket() && l->stalled())
            log_line(l->node() + ": a frame from exed stayed incomplete for longer than frame_timeout; "
                                 "reconnecting");
        // A send failed on some run thread, or a frame stalled.
        if (l->socket() && (l->broken() || l->stalled())) {
            p.forget(*l);
            l->backoff_s = 0;
        }
        if (l->socket() || now < l->next_attempt) continue;
        std::string why;
        if (l->connect(why)) {
            p.polled.add(*l->socket(), Poco::Net::PollSet::POLL_READ | Poco::Net::PollSet::POLL_ERROR);
            p.by_socket[l->socket()->impl()] = l.get();
            l->backoff_s = 0;
            continue;
        }
        if (why != p.last_error) log_line(l->node() + ": cannot reach exed: " + why);
        p.last_error = why;
        // Jittered exponential backoff, 0.5 s .. 30 s: a restarted exed
        // is not hit by every node at the same instant.
        l->backoff_s = std::min(30.0, l->backoff_s <= 0 ? 0.5 : l->backoff_s * 2);
        double wait = l->backoff_s * (0.5 + p.jitter.nextDouble());
        l->next_attempt = now + std::chrono::milliseconds(long(wait * 1000));
    }
}

void AgentLoop::read_ready(Polling& p) {
    auto ready = p.polled.poll(Poco::Timespan(0, 100000));
    for (auto& [socket, mode] : ready) {
        auto it = p.by_socket.find(socket.impl());
        if (it == p.by_socket.end()) continue;
        NodeLink& link = *it->second;
        bool closed = false;
        std::string why;
        try {
            // Whole frames only: a frame exed sends by halves waits in
            // the link's gate and holds no node (NodeLink::receive).
            closed = !link.receive([&](const std::string& text) { handle(link, text); }, why);
        } catch (const Poco::Exception& e) {
            closed = true;
            why = e.displayText();
        }
        if (!closed) continue;
        if (!link.refused) log_line(link.node() + ": connection to exed lost (" + why + "); reconnecting");
        p.forget(link);
        if (link.refused) {
            // Pending (or refused): ask again 1 s, 2 s ... then every
            // 10 s (salt-minion's acceptance wait), jittered.
            link.refused = false;
            link.refused_backoff_s = std::min(10.0, link.refused_backoff_s <= 0 ? 1.0 : link.refused_backoff_s * 2);
            link.next_attempt = Clock::now() + std::chrono::milliseconds(long(
                                                   link.refused_backoff_s * (0.5 + p.jitter.nextDouble()) * 1000));
            continue;
        }
        link.last_refusal.clear();
        link.refused_backoff_s = 0;
        link.backoff_s = 0;
        link.next_attempt = Clock::now() + std::chrono::milliseconds(200 + p.jitter.next(800));
    }
}

void AgentLoop::wind_down() {
    {
        std::lock_guard<std::mutex> lock(runs_mutex_);
        for (auto& [_, r] : runs_) r->cancel = true;
    }
    auto until = Clock::now() + std::chrono::duration<double>(config_.kill_grace_s + 3);
    while (running() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // What the replay guard cost: accepted commands are grouped per loop pass.
    log_line("replay guard: " + std::to_string(guard_.commands()) +
             " record(s) (nonces, started run ids) made durable with " + std::to_string(guard_.syncs()) +
             " fdatasync(s) since start");
}

void AgentLoop::handle(NodeLink& link, const std::string& text) {
    Poco::JSON::Object::Ptr msg;
    try {
        msg = Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
        log_line(link.node() + ": ignored a message that is no JSON object");
        return;
    }
    std::string type = msg->optValue<std::string>("type", "");
    if (type == agent_wire::kPing) {  // answered from the connection: nothing runs
        link.send_now(json_of(run_message("pong", msg->optValue<std::string>("run_id", ""))));
    } else if (type == "command") {
        handle_command(link, msg);
    } else if (type == "refused") {  // exed closes next; see the close below
        link.refused = true;
        std::string why = msg->optValue<std::string>("reason", "");
        if (why != link.last_refusal) log_line(link.node() + ": exed refused this node: " + why);
        link.last_refusal = why;
    }
}

void AgentLoop::handle_command(NodeLink& link, const Poco::JSON::Object::Ptr& msg) {
    Verdict v = verifier_.verify(msg, link.node());
    if (!v.ok) {
        log_line(link.node() + ": refused run " + v.run_id + ": " + v.reason);
        auto nack = run_message("nacked", v.run_id);
        nack.set("reason", v.reason);
        link.send_run_message(v.run_id, json_of(nack), false);
        return;
    }
    bool new_run = false;
    if (v.action == "start")  // remembered for days: a resumed job's start never runs it twice
        new_run = guard_.remember_run(link.node(), v.run_id,
                                      int64_t(::time(nullptr)) + ReplayGuard::kRunKeepSeconds);
    accepted_.push_back({&link, std::move(v), new_run});
}

void AgentLoop::run_accepted() {
    if (accepted_.empty()) return;
    std::string why;
    bool durable = guard_.commit(why);  // one write + fdatasync for the whole pass
    if (!durable) log_line(why + ": the commands of this pass do not run");
    for (auto& a : accepted_) {
        if (durable) {
            dispatch(*a.link, a.verdict, a.new_run);
            continue;
        }
        auto nack = run_message("nacked", a.verdict.run_id);
        nack.set("reason", "the replay guard could not be written (" + why + "): nothing ran");
        a.link->send_run_message(a.verdict.run_id, json_of(nack), false);
    }
    accepted_.clear();
}

void AgentLoop::dispatch(NodeLink& link, const Verdict& v, bool new_run) {
    const std::string key = link.node() + "/" + v.run_id;
    if (v.action == "cancel") {
        std::lock_guard<std::mutex> lock(runs_mutex_);
        if (auto it = runs_.find(key); it != runs_.end()) it->second->cancel = true;
        return;
    }
    if (v.action == "attach") return attach_run(link, v);
    bool known = false;
    {
        std::lock_guard<std::mutex> lock(runs_mutex_);
        known = runs_.count(key) > 0;
    }
    // A start for a run this agent holds (running or retained) is exed
    // resuming a job it lost: the run goes on, exed gets all it sent.
    if (known) return attach_run(link, v);
    if (new_run) return start_run(link, v);
    auto nack = run_message("nacked", v.run_id);
    nack.set("reason", std::string("run_id already ran on this node (its output is no longer kept here): "
                                   "not run again"));
    log_line(link.node() + ": refused run " + v.run_id + ": it already ran here");
    link.send_run_message(v.run_id, json_of(nack), false);
}

void AgentLoop::attach_run(NodeLink& link, const Verdict& v) {
    std::shared_ptr<Run> run;
    {
        std::lock_guard<std::mutex> lock(runs_mutex_);
        if (auto it = runs_.find(link.node() + "/" + v.run_id); it != runs_.end()) run = it->second;
    }
    if (!run) {
        auto nack = run_message("nacked", v.run_id);
        nack.set("reason", std::string("unknown run_id: this agent has no record of it (restarted, or ended "
                                        "more than 15 minutes ago)"));
        link.send_run_message(v.run_id, json_of(nack), false);
        return;
    }
    log_line(link.node() + ": exed attached to run " + v.run_id + (run->ended ? " (ended)" : " (running)"));
    // Under the run's lock: nothing it sends meanwhile gets ahead of the replay.
    // The ack first (exed counts a run's messages from its ack on), then
    // the marker, if any, then the rest.
    std::lock_guard<std::mutex> lock(run->mutex);
    for (size_t i = 0; i < run->log.size(); ++i) {
        link.send_run_message(v.run_id, run->log[i].first, run->log[i].second);
        if (i > 0 || run->not_kept == 0) continue;
        auto marker = run_message("output", v.run_id);
        marker.set("stream", std::string("marker"));
        marker.set("data", "[exed agent: about " + std::to_string(run->not_kept) +
                               " bytes of this run's output were past what it keeps for a reattach]\n");
        link.send_run_message(v.run_id, json_of(marker), false);
    }
}

void AgentLoop::start_run(NodeLink& link, const Verdict& v) {
    const std::string key = link.node() + "/" + v.run_id;
    auto run = std::make_shared<Run>();
    {
        std::lock_guard<std::mutex> lock(runs_mutex_);
        forget_old_runs();
        runs_.emplace(key, run);  // dispatch() saw no such run; only this thread adds runs
    }
    auto ack = run_message("ack", v.run_id);
    ack.set("time", now_rfc3339());
    send_and_keep(link, *run, v.run_id, json_of(ack), false);
    std::thread([this, &link, v, run] {
        auto end = run_message("end", v.run_id);
        if (v.command == agent_wire::kFacter) {
            end.set("facts", node_facts());
            end.set("exit", 0);
        } else {
            long seq = 0;
            auto outcome = run_child(v.argv, v.timeout_s, config_.kill_grace_s, run->cancel,
                                     [&](const std::string& stream, const std::string& data) {
                                         auto out = run_message("output", v.run_id);
                                         out.set("seq", ++seq);
                                         out.set("stream", stream);
                                         out.set("data", data);
                                         send_and_keep(link, *run, v.run_id, json_of(out), true);
                                     });
            end.set("exit", outcome.exit_code);
            if (!outcome.end_reason.empty()) end.set("reason", outcome.end_reason);
        }
        end.set("time", now_rfc3339());
        send_and_keep(link, *run, v.run_id, json_of(end), false);
        std::lock_guard<std::mutex> lock(runs_mutex_);
        run->ended = true;  // kept for an exed that attaches later
        run->ended_at = Clock::now();
    }).detach();
}

}  // namespace exed::agent
