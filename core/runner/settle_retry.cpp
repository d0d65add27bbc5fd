#include "runner/settle_retry.hpp"

#include "runner/job_end.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace exed::runner {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.runner"); }

// Attempts of a settle that Redis refused with an error (not an outage)
// before the end is recorded without the plugin's results and events, and
// (one more) before it is left to the lease.
constexpr int kRefusals = 3;

}  // namespace

bool settle_with_retries(const std::string& jid, jobs::Ending& end, const std::atomic<bool>& running,
                         const std::function<void(const jobs::Ending& end, bool first)>& attempt) {
    int refused = 0;  // attempts that failed otherwise than by redis being away
    for (int n = 0;; ++n) {
        try {
            attempt(end, n == 0);
            return true;
        } catch (const redis::Unavailable& e) {
            if (!running) {
                logger().error(fmt::format("[{}] stopped before the end could be recorded: {}; the "
                                           "lease will expire and another worker will settle it",
                                           jid, e.what()));
                return false;
            }
            if (n % 30 == 0)
                logger().warning(fmt::format("[{}] {}: keeping the job's end ({}) until redis takes it", jid,
                                             e.what(), end.status));
        } catch (const std::exception& e) {
            // Redis answered, with an error: maybe a dropped connection (Poco
            // says so with the same exception), maybe this end itself (its
            // results, its events). Escaping here, it left the job in the
            // pool's ending set, which reclaim skips: running for ever.
            ++refused;
            logger().error(fmt::format("[{}] recording the end ({}) failed: {}", jid, end.status, e.what()));
            if (refused == kRefusals) {
                end = ending(jobs::status::failed, std::string("its end could not be recorded: ") + e.what());
            } else if (refused > kRefusals || !running) {
                logger().error(fmt::format("[{}] giving up: the lease will expire and a worker will reclaim "
                                           "the job", jid));
                return false;
            }
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
}

}  // namespace exed::runner
