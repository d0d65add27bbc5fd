// salt-api's GET /events (text/event-stream), read by a thread of its own.
//
// Why a thread: the stream blocks for as long as the master is quiet, while
// the job waiting for returns must keep checking cancel and deadlines. The
// reader queues job returns; the waiter takes them with a short timeout.
// Closing shuts the socket down, which wakes the blocked reader at once.
#pragma once

#include "salt_api_client.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace exed::salt {

// One "salt/job/<jid>/ret/<minion>" event.
struct JobReturnEvent {
    std::string jid;
    std::string minion;
    Var data;  // the event's data: {"return", "retcode", "success", "fun", ...}
};

// Splits a tag "salt/job/<jid>/ret/<minion>"; false for any other tag.
bool parse_return_tag(const std::string& tag, std::string& jid, std::string& minion);

class EventStream {
public:
    // Connects (subscribed once the headers arrived: salt-api registers the
    // listener before it answers). Throws exed::Error when it cannot.
    explicit EventStream(SaltApiClient& api);
    ~EventStream();
    EventStream(const EventStream&) = delete;
    EventStream& operator=(const EventStream&) = delete;

    // Waits up to `wait` for returns and hands over all queued ones.
    std::vector<JobReturnEvent> take(std::chrono::milliseconds wait);
    // False once the stream ended or failed (the caller falls back to polling).
    bool alive() const { return alive_.load(); }

private:
    void read_loop();
    void dispatch(const std::string& data);

    std::unique_ptr<Poco::Net::HTTPClientSession> session_;
    std::istream* body_ = nullptr;
    std::thread reader_;
    std::atomic<bool> alive_{true};
    std::atomic<bool> closing_{false};
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::deque<JobReturnEvent> queue_;
};

}  // namespace exed::salt
