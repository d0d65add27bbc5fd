// Follow streams (GET /jobs/<jid>?follow=1) after their response head:
// a few threads each read the event streams of all their followed jobs
// in one blocking XREAD (through operate::JobService) and write to the
// followers' sockets without blocking, so a stream holds no request
// worker. A follower that does not read is dropped once kMaxBuffered
// bytes wait for it; an idle stream gets a keepalive every 15 s; a stream
// ends after the job's "end" event or when the job record vanishes.
#pragma once

#include "operate/job_service.hpp"

#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace exed::http {

class FollowHub {
public:
    // `open` is the Acceptor's connection count: a stream's socket counts
    // until the hub closes it.
    FollowHub(operate::JobService& jobs, std::atomic<int>& open, int threads = 2);
    ~FollowHub();
    void start();
    void stop();
    // Takes over a socket whose response head (and the "job" line) went out;
    // streams the events after `after` in NDJSON or SSE.
    void add(Poco::Net::StreamSocket socket, const std::string& jid, const std::string& after, bool sse);
    int followers() const { return followers_; }

    struct Follower;

private:
    struct Shard {
        std::mutex mutex;
        std::condition_variable added;
        std::vector<std::unique_ptr<Follower>> incoming;
        std::thread thread;
    };
    void run(Shard& shard);
    void close(Follower& f);

    operate::JobService& jobs_;
    std::atomic<int>& open_;
    std::atomic<int> followers_{0};
    std::atomic<bool> stopping_{false};
    std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace exed::http
