// [api] rate_limit: a token bucket per caller (token name; the remote
// address when no token was presented). The bucket holds up to
// max(1, rate) requests and refills at `rate` per second; an empty bucket
// answers 429 with Retry-After (whole seconds until the next request fits).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace exed::http::security {

class RateLimiter {
public:
    explicit RateLimiter(double per_second);
    // Takes one request from `key`'s bucket: 0 when admitted, else the
    // whole seconds until one fits (answer 429 with that Retry-After).
    int take(const std::string& key);

private:
    struct Bucket {
        double tokens;
        std::chrono::steady_clock::time_point at;
    };
    double rate_;
    double burst_;
    std::mutex mu_;
    std::map<std::string, Bucket> buckets_;
};

}  // namespace exed::http::security
