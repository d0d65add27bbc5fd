// The plugin host's threads for calls: every call runs on a thread of its
// own (calls block for as long as their op runs, and one stuck plugin must
// not hold up the others), reused from call to call instead of started
// each time. Grows to the most calls ever in flight at once.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace exed::pluginhost {

class CallPool {
public:
    void post(std::function<void()> work) {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(std::move(work));
        ++busy_;
        // Idle threads take what is queued; start one more when they cannot all be served.
        if (queue_.size() > idle_) std::thread([this] { loop(); }).detach();
        else ready_.notify_one();
    }

    // Waits until no call runs (or `seconds` passed); true when none runs.
    bool drain(int seconds) {
        std::unique_lock<std::mutex> lock(mutex_);
        return done_.wait_for(lock, std::chrono::seconds(seconds), [this] { return busy_ == 0; });
    }

private:
    void loop() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            ++idle_;
            ready_.wait(lock, [this] { return !queue_.empty(); });
            --idle_;
            auto work = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            work();
            lock.lock();
            if (--busy_ == 0) done_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable ready_, done_;
    std::deque<std::function<void()>> queue_;
    size_t idle_ = 0;
    int busy_ = 0;
};

}  // namespace exed::pluginhost
