// exed_agents_connected: how many agents the configured executor has
// connected now, from its optional `nodes` op (sdk.h 1.2), for executors
// that have one (the agent executor). Cheap to scrape: at most one `nodes`
// call per second, whatever the scrape rate; the answer is cached.
#pragma once

#include "plugins/executor_client.hpp"

#include <chrono>
#include <mutex>
#include <string>

namespace exed::metrics {

class AgentGauge {
public:
    static constexpr auto kCacheFor = std::chrono::seconds(1);
    // Registers itself with the global registry until destroyed.
    explicit AgentGauge(plugins::ExecutorClient& client);
    ~AgentGauge();
    AgentGauge(const AgentGauge&) = delete;
    AgentGauge& operator=(const AgentGauge&) = delete;

    // The family's text ("" when the executor has no `nodes`).
    std::string render();

private:
    plugins::ExecutorClient& client_;
    int id_ = 0;
    std::mutex mutex_;
    std::chrono::steady_clock::time_point cached_at_{};
    std::string cached_;
};

}  // namespace exed::metrics
