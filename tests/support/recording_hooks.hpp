// CallHooks for tests that invoke a plugin directly (no job manager): they
// record every event and can cancel on demand.
#pragma once

#include "plugins/plugin.hpp"

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace exed::test {

class RecordingHooks : public plugins::CallHooks {
public:
    void emit(const std::string& json) override {
        std::lock_guard<std::mutex> l(mutex);
        events.push_back(json);
    }
    bool cancelled() override { return cancel.load(); }
    void track_process(pid_t pgid) override {
        std::lock_guard<std::mutex> l(mutex);
        tracked.insert(pgid);
        ever_tracked.insert(pgid);
    }
    void untrack_process(pid_t pgid) override {
        std::lock_guard<std::mutex> l(mutex);
        tracked.erase(pgid);
    }
    std::vector<std::string> snapshot() {
        std::lock_guard<std::mutex> l(mutex);
        return events;
    }

    std::mutex mutex;
    std::vector<std::string> events;
    std::set<pid_t> tracked, ever_tracked;
    std::atomic<bool> cancel{false};
};

}  // namespace exed::test
