// Node status from the executor: every status_interval, one exed process
// of all those sharing the Redis (whichever takes the check lease) records
// up/down per node. An executor that tracks its nodes itself (the optional
// `nodes` op: the agent executor's connections and heartbeats) is asked
// once per round, no job and no ping per node; any other executor gets a
// ping of every host it knows (down after down_after missed checks in a row)
// through the operations core's read-only call: prepared as a ping job is,
// run without the job (no locks, no record; docs/architecture.md).
#pragma once

#include "shovey/shovey_config.hpp"
#include "shovey/jobs_adapter.hpp"
#include "jobs/shovey_store.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace exed::shovey {

class NodeChecker {
public:
    NodeChecker(const Config& config, Store& store, JobsAdapter& jobs, std::string token);
    ~NodeChecker();

    void start();
    void stop();
    // One round: takes the lease (false when another process holds it or
    // checked less than status_interval ago), pings, records, and keeps
    // the lease until the interval since the start has passed.
    bool check_once();

private:
    void loop();
    void ping_all();
    void record_reported(const std::vector<operate::NodeState>& reported);

    const Config& config_;
    Store& store_;
    JobsAdapter& jobs_;
    std::string token_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
};

}  // namespace exed::shovey
