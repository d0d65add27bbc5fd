#include "http/security/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace exed::http::security {

RateLimiter::RateLimiter(double per_second) : rate_(per_second), burst_(std::max(1.0, per_second)) {}

int RateLimiter::take(const std::string& key) {
    if (rate_ <= 0) return 0;
    auto now = std::chrono::steady_clock::now();
    double wait_s = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        // Bounded: full buckets carry no state, so drop them when the map grows.
        if (buckets_.size() > 10000) {
            for (auto it = buckets_.begin(); it != buckets_.end();) {
                double t = it->second.tokens +
                           std::chrono::duration<double>(now - it->second.at).count() * rate_;
                it = t >= burst_ ? buckets_.erase(it) : std::next(it);
            }
        }
        auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
        Bucket& b = it->second;
        if (!fresh) {
            b.tokens = std::min(burst_, b.tokens + std::chrono::duration<double>(now - b.at).count() * rate_);
            b.at = now;
        }
        if (b.tokens >= 1) {
            b.tokens -= 1;
            return 0;
        }
        wait_s = (1 - b.tokens) / rate_;
    }
    return int(std::max(1.0, std::ceil(wait_s)));
}

}  // namespace exed::http::security
