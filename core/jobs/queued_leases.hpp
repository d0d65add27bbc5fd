// The jobs this process queued and whose host locks it keeps alive until a
// worker (here or elsewhere) takes them over. The submitter adds to it, the
// watchdog renews and forgets: both meet here, in jobs/, so neither operate/
// nor runner/ calls the other.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace exed::jobs {

class QueuedLeases {
public:
    void add(const std::string& jid, const std::vector<std::string>& hosts) {
        std::lock_guard<std::mutex> l(mutex_);
        jobs_[jid] = hosts;
    }
    void forget(const std::string& jid) {
        std::lock_guard<std::mutex> l(mutex_);
        jobs_.erase(jid);
    }
    std::map<std::string, std::vector<std::string>> snapshot() const {
        std::lock_guard<std::mutex> l(mutex_);
        return jobs_;
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::vector<std::string>> jobs_;  // jid -> hosts
};

}  // namespace exed::jobs
