#include "pluginhost/host_client.hpp"

#include "catalogue.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <atomic>
#include <climits>
#include <memory>
#include <set>

#include <signal.h>

namespace exed::pluginhost {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.pluginhost"); }

// How long a call waits for a host being restarted: a request thread
// briefly, a job (already taken by its worker) through a whole backoff.
constexpr auto kHealthWait = std::chrono::seconds(2);
constexpr auto kPrepareWait = std::chrono::seconds(10);
constexpr auto kRunWait = std::chrono::seconds(30);
constexpr auto kPoll = std::chrono::milliseconds(50);
// A call the host named as a bystander of another call's crash is made
// again (a prepare, a health check), at most this many times.
constexpr int kBystanderRetries = 5;

using Clock = std::chrono::steady_clock;

// `wait`, cut to what is left before `deadline` (max(): no deadline).
std::chrono::milliseconds bounded(std::chrono::milliseconds wait, Clock::time_point deadline) {
    if (deadline == Clock::time_point::max()) return wait;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max(std::chrono::milliseconds(0), std::min(wait, left));
}

bool passed(Clock::time_point deadline) { return deadline != Clock::time_point::max() && Clock::now() >= deadline; }

std::string host_down() {
    return "the plugin host is not running (it is being restarted after a crash); retry shortly";
}

std::string crashed(const std::string& how, const plugins::PluginRef& plugin, const std::string& doing) {
    return fmt::format("{} ({}) while {} plugin '{}' {}; it is being restarted", plugins::kHostCrashedError, how,
                       plugin.kind, plugin.type, doing);
}

// The result frame of a call without hooks (prepare, health), its raw
// strings in `strings`; nullptr when the host died first or `deadline`
// passed (then the call is given up: its late answer is dropped).
Poco::JSON::Object::Ptr await_result(HostProcess& host, PendingCall& call,
                                     std::vector<std::string>* strings = nullptr,
                                     Clock::time_point deadline = Clock::time_point::max()) {
    for (;;) {
        if (strings) strings->clear();
        auto frame = call.next(bounded(kPoll, deadline), strings);
        if (frame && text_of(*frame, "t") == "result") {
            host.end(call.id());
            return frame;
        }
        if (!frame && call.crashed()) return nullptr;
        if (!frame && passed(deadline)) {
            host.end(call.id());
            return nullptr;
        }
    }
}

std::string timed_out() {
    return "the plugin host did not answer within the request's deadline ([api] sync_timeout)";
}

}  // namespace

PluginHostClient::PluginHostClient(const std::string& config_path, std::string executor_type,
                                   plugins::Registry& registry)
    : host_(config_path, [&registry](const Listing& l) { registry.mirror(l.plugins, l.refusals); }),
      executor_type_(std::move(executor_type)) {
    host_.start(0);  // exed serves meanwhile: GET /health says "starting" until wait_ready()
}

bool PluginHostClient::wait_ready(std::chrono::milliseconds wait) { return host_.wait_hello(wait); }

bool PluginHostClient::ready() const { return host_.hello_seen(); }

PluginHostClient::~PluginHostClient() { host_.stop(); }

plugins::PluginRef PluginHostClient::executor() const {
    return {catalogue::kind_name(catalogue::Kind::Executor), executor_type_};
}

bool PluginHostClient::available(const plugins::PluginRef& plugin) const {
    return host_.listing()->ops.count({plugin.kind, plugin.type}) > 0;
}

bool PluginHostClient::implements(const plugins::PluginRef& plugin, const std::string& op) const {
    auto listing = host_.listing();
    auto it = listing->ops.find({plugin.kind, plugin.type});
    return it != listing->ops.end() && it->second.count(op) > 0;
}

plugins::Prepared PluginHostClient::prepare(const plugins::PrepareRequest& request) {
    plugins::Prepared out;
    for (int attempt = 0;; ++attempt) {
        auto call = host_.call(prepare_message(request), bounded(kPrepareWait, request.deadline));
        if (!call) {
            out.status = passed(request.deadline) ? plugins::kStatusTimedOut : plugins::kStatusHostDown;
            out.error = passed(request.deadline) ? timed_out() : host_down();
            return out;
        }
        std::vector<std::string> strings;
        if (auto frame = await_result(host_, *call, &strings, request.deadline))
            return prepared_of(*frame, std::move(strings));
        if (!call->crashed()) {
            out.status = plugins::kStatusTimedOut;
            out.error = timed_out();
            return out;
        }
        // Another call crashed the host under this one: ask the new host.
        if (call->bystander() && attempt < kBystanderRetries && !passed(request.deadline)) continue;
        out.status = plugins::kStatusCrashed;
        auto plugin = request.op.empty() ? executor() : request.plugin;
        out.error = crashed(call->crash(), plugin,
                            request.op.empty() ? "expanded targets" : "prepared '" + request.op + "'");
        return out;
    }
}

plugins::OpResult PluginHostClient::health() {
    plugins::OpResult out;
    Poco::JSON::Object message;
    message.set("t", "health");
    for (int attempt = 0;; ++attempt) {
        auto call = host_.call(message, kHealthWait);
        if (!call) {
            out.status = plugins::kStatusHostDown;
            out.error = host_down();
            return out;
        }
        if (auto frame = await_result(host_, *call)) return result_of(*frame);
        if (call->bystander() && attempt < kBystanderRetries) continue;
        out.status = plugins::kStatusCrashed;
        out.error = crashed(call->crash(), executor(), "checked its health");
        return out;
    }
}

namespace {

// The process groups a call started and had not ended when its plugin host
// crashed: its commands outlive the host (they are its orphans now); they
// belonged to this call, so they end with it.
void end_orphans(const std::set<pid_t>& groups, plugins::CallHooks& hooks) {
    for (pid_t g : groups) {
        if (kill(-g, SIGKILL) == 0)
            logger().warning(fmt::format("[{}] killed process group {} left by the crashed plugin host",
                                         hooks.job_id(), g));
        hooks.untrack_process(g);
    }
}

}  // namespace

plugins::OpResult PluginHostClient::run(const plugins::PluginRef& plugin, const std::string& op,
                                        const std::string& document, plugins::CallHooks& hooks) {
    plugins::OpResult out;
    Poco::JSON::Object message;
    message.set("t", "run");
    message.set("kind", plugin.kind);
    message.set("type", plugin.type);
    message.set("op", op);
    message.set("doc", document);
    message.set("deadline", hooks.deadline());
    message.set("job", hooks.job_id());
    auto call = host_.call(message, kRunWait);
    if (!call) {
        out.status = plugins::kStatusHostDown;
        out.error = host_down();
        return out;
    }
    std::set<pid_t> groups;  // started for this call and not yet ended
    size_t handled = 0;      // event bytes handled since the last credit
    auto cancel_sent = std::make_shared<std::atomic<bool>>(false);
    auto send_cancel = [this, id = call->id(), cancel_sent] {
        if (cancel_sent->exchange(true)) return;
        Poco::JSON::Object cancel;
        cancel.set("t", "cancel");
        cancel.set("id", id);
        host_.send(cancel);
    };
    hooks.forward_stop(send_cancel);
    struct Unforward {
        plugins::CallHooks& hooks;
        ~Unforward() { hooks.forward_stop({}); }
    } unforward{hooks};
    for (;;) {
        if (hooks.cancelled()) send_cancel();  // hooks that do not forward their stop
        auto frame = call->next(kPoll);
        if (!frame) {
            if (!call->crashed()) continue;
            end_orphans(groups, hooks);
            out.status = call->bystander() ? plugins::kStatusBystander : plugins::kStatusCrashed;
            out.error = crashed(call->crash(), plugin, "ran '" + op + "'");
            if (call->bystander()) out.error += " (another call crashed it)";
            return out;
        }
        std::string type = text_of(*frame, "t");
        if (type == "emit") {
            std::string event = text_of(*frame, "e");
            hooks.emit(event);  // stored: the host may send as much again
            handled += event.size();
            if (handled >= kCreditEvery) {
                Poco::JSON::Object credit;
                credit.set("t", "credit");
                credit.set("id", call->id());
                credit.set("bytes", uint64_t(handled));
                host_.send(credit);
                handled = 0;
            }
        } else if (type == "track" || type == "untrack") {
            int64_t g = integer_of(*frame, "pgid", 0);
            if (g <= 0 || g > INT_MAX) continue;  // never kill(-0) or a wrapped-around group
            pid_t pgid = pid_t(g);
            if (type == "track") {
                groups.insert(pgid);
                hooks.track_process(pgid);
            } else {
                groups.erase(pgid);
                hooks.untrack_process(pgid);
            }
        } else if (type == "result") {
            // An unreadable frame ends the call here; the host is told to
            // stop its op, whose later frames nobody reads.
            if (frame->has("unreadable")) send_cancel();
            host_.end(call->id());
            return result_of(*frame);
        }
    }
}

}  // namespace exed::pluginhost
