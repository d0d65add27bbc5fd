// The audit trail's copy in Redis: a stream capped at [log] audit_max
// entries (`exed:audit`, one JSON line per entry), which GET /audit reads.
// Kept with the rest of the store; the face reaches it through the
// AuditStore interface (http/security/audit.hpp), wired by the app.
#pragma once

#include "redis/pool.hpp"

#include <string>
#include <utility>
#include <vector>

namespace exed::jobs {

class AuditStream {
public:
    explicit AuditStream(redis::Pool& pool) : pool_(pool) {}
    // XADD with MAXLEN `max_entries`.
    void append(const std::string& line, int max_entries);
    // (stream id, line), newest first, at most `limit`.
    std::vector<std::pair<std::string, std::string>> recent(int limit);

private:
    redis::Pool& pool_;
};

}  // namespace exed::jobs
