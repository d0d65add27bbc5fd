#include "run_batch.hpp"

#include "wire_commands.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <ctime>
#include <thread>
#include <sstream>

namespace exed::agent_executor {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxOutputBytes = 4 << 20;  // kept per host and stream in the result
constexpr size_t kMaxOrder = 10000;           // output_order slices, as the ansible executor
// How long an attach waits for its nodes' agents to reconnect (their
// backoff after a restart of exed is a few seconds).
constexpr std::chrono::seconds kAttachWait{30};

std::string json_text(const Poco::JSON::Object& o) {
    std::ostringstream s;
    o.stringify(s);
    return s.str();
}

Poco::JSON::Object::Ptr host_status(int status, const std::string& error = "") {
    Poco::JSON::Object::Ptr r = new Poco::JSON::Object;
    r->set("status", status);
    if (!error.empty()) r->set("error", error);
    return r;
}

const char* command_name(RunKind k) {
    switch (k) {
        case RunKind::Facter: return agent_wire::kFacter;
        case RunKind::Service: return agent_wire::kService;
        default: return agent_wire::kExec;
    }
}

}  // namespace

RunBatch::RunBatch(AgentHub& hub, const CommandSigner& signer, exed::Call& call, RunKind kind,
                   std::string run_ids, bool attach)
    : hub_(hub), signer_(signer), call_(call), kind_(kind), run_ids_(std::move(run_ids)), attach_(attach) {}

RunBatch::~RunBatch() {
    for (auto& [run_id, _] : runs_) hub_.unsubscribe(run_id);
}

void RunBatch::on_message(const std::string& node, const Poco::JSON::Object::Ptr& msg) {
    std::lock_guard<std::mutex> lock(mutex_);
    inbox_.emplace_back(node, msg);
    wake_.notify_one();
}

void RunBatch::on_node_lost(const std::string& node) {
    std::lock_guard<std::mutex> lock(mutex_);
    lost_.push_back(node);
    wake_.notify_one();
}

void RunBatch::finish(HostRun& h, const Poco::JSON::Object::Ptr& result) {
    if (h.done) return;
    h.done = true;
    --open_;
    Poco::JSON::Object ev;
    ev.set(h.node, result);
    call_.emit(json_text(ev));
    results_.set(h.node, result);
}

Poco::JSON::Object::Ptr RunBatch::end_result(HostRun& h, const Poco::JSON::Object::Ptr& msg) const {
    int exit = msg->optValue<int>("exit", -1);
    std::string reason = msg->optValue<std::string>("reason", "");
    Poco::JSON::Object::Ptr r;
    if (kind_ == RunKind::Facter) {
        r = host_status(exit == 0 ? EXED_HOST_OK : EXED_HOST_FAILED);
        if (msg->has("facts")) r->set(EXED_KEY_FACTS, msg->get("facts"));
        r->set("state", r->get("status"));
    } else {
        bool ok = exit == 0 && reason.empty();
        r = host_status(ok ? EXED_HOST_CHANGED : EXED_HOST_FAILED);
        r->set("rtc", exit);
        r->set("stdout", h.stdout_text);
        r->set("stderr", h.stderr_text);
        Poco::JSON::Array::Ptr order = new Poco::JSON::Array;
        for (auto& [stream, bytes] : h.order) {
            Poco::JSON::Array::Ptr slice = new Poco::JSON::Array;
            slice->add(stream);
            slice->add(uint64_t(bytes));
            order->add(slice);
        }
        r->set("output_order", order);
        if (!reason.empty()) r->set("error", reason);
        else if (!ok && kind_ == RunKind::Service) r->set("error", "service command failed: " + h.stderr_text);
    }
    r->set("ack_time", h.ack_time);
    r->set("end_time", msg->optValue<std::string>("time", ""));
    return r;
}

void RunBatch::handle(const std::string& from, const std::string& run_id, const Poco::JSON::Object::Ptr& msg) {
    auto it = runs_.find(run_id);
    if (it == runs_.end() || it->second.done) return;
    HostRun& h = it->second;
    std::string type = msg->optValue<std::string>("type", "");
    if (from != h.node) {  // run ids are predictable: only the run's own node speaks for it
        call_.log(EXED_LOG_WARNING, "dropped a '" + type.substr(0, 32) + "' message for run " + run_id + " of node " +
                                        h.node + ": it came from node " + from);
        return;
    }
    if (type == "pong") {
        finish(h, host_status(EXED_HOST_OK));
    } else if (type == "nacked") {
        auto r = host_status(EXED_HOST_FAILED, "refused by the agent: " + msg->optValue<std::string>("reason", ""));
        r->set("state", std::string("nacked"));
        finish(h, r);
    } else if (type == "ack") {
        // An attach replays a run from its ack: output kept from an earlier
        // ack (buffered by the agent while exed was away) comes again.
        if (h.acked) {
            h.stdout_text.clear();
            h.stderr_text.clear();
            h.order.clear();
        }
        h.acked = true;
        h.ack_time = msg->optValue<std::string>("time", "");
    } else if (!h.acked) {
        // After exed's restart an agent first sends what it buffered while
        // exed was away: the tail of a run whose head went to the dead exed.
        // Taken as the result it would lose that head (an `end` with no
        // output); the attach's replay that follows has all of it.
        return;
    } else if (type == "output") {
        std::string stream = msg->optValue<std::string>("stream", "stdout");
        std::string data = msg->optValue<std::string>("data", "");
        std::string kept_in = stream == "stderr" ? "stderr" : "stdout";  // a marker goes with stdout
        std::string& keep = kept_in == "stderr" ? h.stderr_text : h.stdout_text;
        size_t kept = keep.size() < kMaxOutputBytes ? std::min(data.size(), kMaxOutputBytes - keep.size()) : 0;
        keep.append(data, 0, kept);
        if (kept > 0 && h.order.size() < kMaxOrder) h.order.emplace_back(kept_in, kept);
        // Progress, not the host's result: it carries the task key ("name").
        Poco::JSON::Object::Ptr chunk = host_status(EXED_HOST_OK);
        chunk->set("name", std::string("output"));
        chunk->set("stream", stream);
        chunk->set("seq", msg->optValue<long>("seq", 0));
        chunk->set("data", data);
        Poco::JSON::Object ev;
        ev.set(h.node, chunk);
        call_.emit(json_text(ev));
    } else if (type == "end") {
        finish(h, end_result(h, msg));
    }
}

std::string RunBatch::frame_for(const HostRun& h, const std::string& run_id, const std::string& command,
                                const std::string& argv_json) const {
    std::string frame;
    if (kind_ == RunKind::Ping) {
        frame = std::string(R"({"type":")") + agent_wire::kPing + R"(","run_id":")" + run_id + "\"}";
    } else {
        // A resumed call sends `start` too: the agent attaches to a run it
        // has, refuses one it ran and no longer keeps, and starts one exed
        // never got to send before it died: each runs once.
        std::map<std::string, std::string> f{{"action", "start"}, {"command", command},
                                             {"run_id", run_id}, {"node", h.node}};
        if (!argv_json.empty()) f["argv"] = argv_json;
        int64_t deadline = call_.deadline();
        f["timeout"] = std::to_string(deadline > 0 ? std::max<int64_t>(1, deadline - ::time(nullptr)) : 0);
        stamp(f);
        frame = signer_.signed_command(f);
    }
    return frame;
}

void RunBatch::start(HostRun& h, const std::string& frame) {
    if (!hub_.send(h.node, frame)) finish(h, host_status(EXED_HOST_UNREACHABLE, "agent " + h.node + " is not connected"));
}

void RunBatch::wait_for_agents(std::chrono::seconds at_most) {
    // After exed's restart its agents come back with their reconnect
    // backoff: the runs to attach to are there once their nodes are.
    auto until = Clock::now() + at_most;
    for (;;) {
        bool all = true;
        for (auto& [_, h] : runs_) all = all && hub_.connected(h.node);
        if (all || Clock::now() >= until || call_.cancelled()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

void RunBatch::send_cancel() {
    for (auto& [run_id, h] : runs_) {
        if (h.done || kind_ == RunKind::Ping) continue;
        std::map<std::string, std::string> f{{"action", "cancel"}, {"command", command_name(kind_)},
                                             {"run_id", run_id}, {"node", h.node}, {"timeout", "0"}};
        stamp(f);
        hub_.send(h.node, signer_.signed_command(f));
    }
}

std::string RunBatch::run(const std::vector<std::string>& targets, const std::string& command,
                          const std::string& argv_json) {
    std::vector<std::string> ids;
    for (auto& node : targets) {
        if (results_.has(node)) continue;  // a target named twice runs once
        std::string id = run_ids_.empty() ? Poco::UUIDGenerator::defaultGenerator().createRandom().toString()
                                          : run_ids_ + node;
        HostRun& h = runs_[id];
        h.node = node;
        ++open_;
        hub_.subscribe(id, this);
        ids.push_back(id);
        results_.set(node, Poco::Dynamic::Var());  // placeholder: filled by finish()
    }
    // RSA signing is the costly part of a fan-out: sign on every core, then send.
    std::vector<std::string> frames(ids.size());
    const std::string cmd = command.empty() ? command_name(kind_) : command;
    size_t workers = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    if (ids.size() < 64) workers = 1;
    std::vector<std::thread> signers;
    for (size_t w = 0; w < workers; ++w)
        signers.emplace_back([&, w] {
            for (size_t i = w; i < ids.size(); i += workers) frames[i] = frame_for(runs_.at(ids[i]), ids[i], cmd, argv_json);
        });
    for (auto& t : signers) t.join();
    if (attach_) wait_for_agents(kAttachWait);
    for (size_t i = 0; i < ids.size(); ++i) start(runs_[ids[i]], frames[i]);
    const auto grace = std::chrono::duration<double>(hub_.settings().heartbeat_timeout_s);
    const auto started = Clock::now();
    Clock::time_point cancelled_at{};
    while (open_ > 0) {
        std::deque<std::pair<std::string, Poco::JSON::Object::Ptr>> inbox;
        std::vector<std::string> lost;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait_for(lock, std::chrono::milliseconds(100), [&] { return !inbox_.empty() || !lost_.empty(); });
            inbox.swap(inbox_);
            lost.swap(lost_);
        }
        for (auto& [node, msg] : inbox) handle(node, msg->optValue<std::string>("run_id", ""), msg);
        auto now = Clock::now();
        for (auto& n : lost)
            for (auto& [_, h] : runs_)
                if (h.node == n && !h.done) h.lost_since = now;
        for (auto& [id, h] : runs_) {
            if (h.done || h.lost_since == Clock::time_point{} || kind_ == RunKind::Ping || !hub_.connected(h.node))
                continue;
            // The node is back. What its agent sent while the old connection
            // died may have died with it (exed drops a silent node; frames in
            // flight are lost): the same start again makes the agent send the
            // run from its ack (or start it if the first start never got there).
            h.lost_since = {};
            start(h, frame_for(h, id, cmd, argv_json));
        }
        for (auto& [_, h] : runs_) {
            if (h.done) continue;
            bool lost_too_long = h.lost_since != Clock::time_point{} && now - h.lost_since > grace &&
                                 !hub_.connected(h.node);
            // A ping is answered from the connection: no pong within the
            // heartbeat window means the agent is not really there.
            bool ping_silent = kind_ == RunKind::Ping && now - started > grace;
            if (lost_too_long || ping_silent)
                finish(h, host_status(EXED_HOST_UNREACHABLE, "agent " + h.node + " went away during the run"));
        }
        if (cancelled_at == Clock::time_point{} && call_.cancelled()) {
            cancelled_at = now;
            send_cancel();
        }
        if (cancelled_at != Clock::time_point{} &&
            now - cancelled_at > std::chrono::seconds(hub_.settings().kill_grace_s) + grace)
            break;  // the agents were told; do not hold the worker for ever
    }
    if (cancelled_at != Clock::time_point{}) throw exed::Cancelled();
    return json_text(results_);
}

}  // namespace exed::agent_executor
