#include "metrics/agent_gauge.hpp"

#include "metrics/metrics.hpp"
#include "plugins/executor_nodes.hpp"

namespace exed::metrics {

AgentGauge::AgentGauge(plugins::ExecutorClient& client) : client_(client) {
    id_ = global().add_collector([this] { return render(); });
}

AgentGauge::~AgentGauge() { global().remove_collector(id_); }

std::string AgentGauge::render() {
    std::lock_guard<std::mutex> l(mutex_);  // concurrent scrapes share one call
    auto now = std::chrono::steady_clock::now();
    if (cached_at_ != std::chrono::steady_clock::time_point{} && now - cached_at_ < kCacheFor) return cached_;
    std::string out;
    if (auto nodes = plugins::executor_nodes(client_)) {  // throws: no sample this scrape
        long up = 0;
        for (auto& n : *nodes) up += n.up ? 1 : 0;
        out = family("exed_agents_connected", "gauge",
                     "Agents connected to this exed's executor now (its nodes op: up = connected and heard from).") +
              sample("exed_agents_connected", {}, std::to_string(up));
    }
    cached_ = out;
    cached_at_ = now;
    return out;
}

}  // namespace exed::metrics
