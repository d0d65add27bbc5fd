#include "http/follow_hub.hpp"

#include "http/event_format.hpp"

#include <Poco/Logger.h>
#include <Poco/Net/NetException.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include <sys/socket.h>

namespace exed::http {

namespace {

Poco::Logger& log() { return Poco::Logger::get("exed.http"); }

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxBuffered = 1 << 20;             // bytes waiting for one follower
constexpr size_t kTlsRecord = 16384;                 // bytes per TLS write
constexpr auto kKeepalive = std::chrono::seconds(15);
constexpr auto kVanishCheck = std::chrono::seconds(2);
constexpr int kBlockMs = 100;      // one XREAD waits this long for any followed job
constexpr int kBacklogBlockMs = 20;  // ... shorter while some follower has bytes waiting

// Redis stream ids "ms" or "ms-seq" (checked by valid_stream_id before).
std::pair<unsigned long long, unsigned long long> id_of(const std::string& id) {
    char* end = nullptr;
    unsigned long long ms = std::strtoull(id.c_str(), &end, 10);
    unsigned long long seq = (end && *end == '-') ? std::strtoull(end + 1, nullptr, 10) : 0;
    return {ms, seq};
}

}  // namespace

struct FollowHub::Follower {
    Poco::Net::StreamSocket socket;
    std::string jid;
    std::string after;
    bool sse = false;
    std::string out;      // formatted, not yet written
    std::string tls_out;  // a TLS write in progress: retried with the same bytes
    bool ending = false;  // close once `out` is written
    bool closed = false;
    Clock::time_point last = Clock::now();

    bool pending() const { return !out.empty() || !tls_out.empty(); }

    // false: the client is gone.
    bool write() {
        if (!socket.secure()) {
            while (!out.empty()) {
                ssize_t n = ::send(socket.impl()->sockfd(), out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n > 0) out.erase(0, size_t(n));
                else return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
            }
            return true;
        }
        for (;;) {
            if (tls_out.empty()) {
                if (out.empty()) return true;
                size_t n = std::min(out.size(), kTlsRecord);
                tls_out = out.substr(0, n);
                out.erase(0, n);
            }
            int n;
            try {
                n = socket.sendBytes(tls_out.data(), int(tls_out.size()));
            } catch (const Poco::TimeoutException&) {
                return true;
            } catch (const Poco::Exception&) {
                return false;
            }
            if (n <= 0) return true;  // the TLS layer wants to wait: same bytes again later
            tls_out.erase(0, size_t(n));
        }
    }
};

FollowHub::FollowHub(operate::JobService& jobs, std::atomic<int>& open, int threads)
    : jobs_(jobs), open_(open) {
    for (int i = 0; i < threads; ++i) shards_.push_back(std::make_unique<Shard>());
}

FollowHub::~FollowHub() { stop(); }

void FollowHub::start() {
    for (auto& s : shards_) s->thread = std::thread([this, &shard = *s] { run(shard); });
}

void FollowHub::stop() {
    if (stopping_.exchange(true)) return;
    for (auto& s : shards_) {
        s->added.notify_all();
        if (s->thread.joinable()) s->thread.join();
        for (auto& f : s->incoming) close(*f);
        s->incoming.clear();
    }
}

void FollowHub::add(Poco::Net::StreamSocket socket, const std::string& jid, const std::string& after, bool sse) {
    auto f = std::make_unique<Follower>();
    f->socket = socket;
    f->socket.setBlocking(false);
    f->jid = jid;
    f->after = after;
    f->sse = sse;
    ++followers_;
    // All followers of one job on one shard: one stream read serves them all.
    Shard& shard = *shards_[std::hash<std::string>()(jid) % shards_.size()];
    {
        std::lock_guard<std::mutex> lock(shard.mutex);
        shard.incoming.push_back(std::move(f));
    }
    shard.added.notify_one();
}

void FollowHub::close(Follower& f) {
    if (f.closed) return;
    f.closed = true;
    try {
        f.socket.close();
    } catch (const Poco::Exception&) {
    }
    --followers_;
    --open_;
}

void FollowHub::run(Shard& shard) {
    std::vector<std::unique_ptr<Follower>> mine;
    auto last_vanish_check = Clock::now();
    while (!stopping_) {
        {
            std::unique_lock<std::mutex> lock(shard.mutex);
            if (mine.empty())
                shard.added.wait_for(lock, std::chrono::seconds(1),
                                     [&] { return stopping_ || !shard.incoming.empty(); });
            for (auto& f : shard.incoming) mine.push_back(std::move(f));
            shard.incoming.clear();
        }
        if (mine.empty()) continue;

        // Each job is read from the oldest position any of its followers has.
        std::map<std::string, std::string> from;
        std::map<std::string, std::vector<Follower*>> of_job;
        bool backlog = false;
        for (auto& f : mine) {
            backlog = backlog || f->pending();
            if (f->ending) continue;
            of_job[f->jid].push_back(f.get());
            auto it = from.find(f->jid);
            if (it == from.end()) from[f->jid] = f->after;
            else if (id_of(f->after) < id_of(it->second)) it->second = f->after;
        }
        std::set<std::string> active;
        if (!from.empty()) {
            try {
                std::vector<std::pair<std::string, std::string>> ask(from.begin(), from.end());
                for (auto& [jid, events] : jobs_.events_of_many(ask, 200, backlog ? kBacklogBlockMs : kBlockMs)) {
                    active.insert(jid);
                    for (Follower* f : of_job[jid])
                        for (auto& e : events) {
                            if (f->ending || !(id_of(f->after) < id_of(e.id))) continue;
                            f->out += format_event(f->sse, e.type, e.id, e.data);
                            f->after = e.id;
                            f->last = Clock::now();
                            if (e.type == "end") f->ending = true;
                        }
                }
            } catch (const std::exception& e) {
                // The store is down: streams wait for it (their keepalives go on).
                log().warning(fmt::format("follow: {}", e.what()));
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(kBacklogBlockMs));
        }

        auto now = Clock::now();
        if (now - last_vanish_check > kVanishCheck) {
            last_vanish_check = now;
            for (auto& [jid, followers] : of_job) {
                if (active.count(jid)) continue;
                try {
                    if (jobs_.find(jid)) continue;
                } catch (const std::exception&) {
                    continue;
                }
                for (Follower* f : followers) f->ending = true;  // deleted or expired
            }
        }
        for (auto& f : mine) {
            if (!f->ending && !f->pending() && now - f->last > kKeepalive) {
                // Keeps proxies from closing an idle stream; also finds gone clients.
                f->out += f->sse ? ": keepalive\n\n" : "\n";
                f->last = now;
            }
            if (!f->write()) close(*f);
            else if (f->out.size() > kMaxBuffered) {
                log().information(fmt::format("follow of {}: the client reads too slowly, dropped", f->jid));
                close(*f);
            } else if (f->ending && !f->pending()) {
                close(*f);
            }
        }
        mine.erase(std::remove_if(mine.begin(), mine.end(), [](auto& f) { return f->closed; }), mine.end());
    }
    for (auto& f : mine) close(*f);
}

}  // namespace exed::http
