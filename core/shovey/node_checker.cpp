#include "shovey/node_checker.hpp"

#include "shovey/service.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <chrono>
#include <set>

namespace exed::shovey {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.shovey"); }

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// How long a check may hold the lease before others assume its process
// died: a ping of every host is bounded by the executor's own timeouts.
constexpr int64_t kCheckLeaseMs = 10 * 60 * 1000;

}  // namespace

NodeChecker::NodeChecker(const Config& config, Store& store, JobsAdapter& jobs, std::string token)
    : config_(config), store_(store), jobs_(jobs), token_(std::move(token)) {}

NodeChecker::~NodeChecker() { stop(); }

void NodeChecker::start() {
    stop_ = false;
    thread_ = std::thread([this] { loop(); });
}

void NodeChecker::stop() {
    {
        std::lock_guard<std::mutex> l(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool NodeChecker::check_once() {
    int64_t interval_ms = int64_t(config_.status_interval) * 1000;
    if (!store_.take_check(token_, std::max(interval_ms, kCheckLeaseMs))) return false;
    int64_t started = now_ms();
    try {
        if (auto reported = jobs_.executor_nodes()) record_reported(*reported);
        else ping_all();
    } catch (...) {
        store_.end_check(token_, 0);  // let the next one try soon
        throw;
    }
    // The next check, here or elsewhere, comes one interval after this one began.
    store_.end_check(token_, started + interval_ms - now_ms());
    return true;
}

void NodeChecker::ping_all() {
    auto hosts = jobs_.known_hosts();
    auto answered = jobs_.ping(hosts, stop_);
    if (stop_) return;
    int64_t at = now_ms();
    int down = 0;
    for (auto& [host, ok] : answered)
        if (store_.record_check(host, ok, config_.down_after, at, kHistory) == "down") ++down;
    logger().debug(fmt::format("node check: {} host(s) pinged, {} down", answered.size(), down));
}

void NodeChecker::record_reported(const std::vector<operate::NodeState>& reported) {
    // The executor already waited for missed heartbeats before it says
    // down, so its word counts at once (down_after = 1): status follows a
    // connection within one interval.
    int64_t at = now_ms();
    std::set<std::string> listed;
    int down = 0;
    for (auto& n : reported) {
        if (!valid_node_name(n.name) || !listed.insert(n.name).second) continue;
        if (store_.record_check(n.name, n.up, 1, at, kHistory) == "down") ++down;
    }
    // Nodes with a status that the executor no longer lists (it restarted
    // and they did not come back) are down, not up forever.
    for (auto& name : store_.node_names())
        if (!listed.count(name) && store_.record_check(name, false, 1, at, kHistory) == "down") ++down;
    logger().debug(fmt::format("node check: {} node(s) from the executor, {} down", listed.size(), down));
}

void NodeChecker::loop() {
    std::string failing;
    while (!stop_) {
        try {
            check_once();
            failing.clear();
        } catch (const std::exception& e) {
            if (failing != e.what()) logger().warning(std::string("node check: ") + e.what());
            failing = e.what();
        }
        // Poll the lease a few times per interval: whoever finds it free
        // checks next, so checks go on when a process stops.
        std::unique_lock<std::mutex> l(mutex_);
        auto wait = std::chrono::milliseconds(std::clamp(config_.status_interval * 1000 / 4, 100, 5000));
        wake_.wait_for(l, wait, [this] { return stop_.load(); });
    }
}

}  // namespace exed::shovey
