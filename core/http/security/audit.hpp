// The audit trail: one JSON line per request that changes something or
// runs anything (and every refusal of one), with time, token name, remote
// address, method, path (never the query: it may carry arguments), the
// operation, expanded targets, jid and status. Never a token or a secret.
// Written to [log] audit_log (mode 0640) and to a Redis stream capped at
// [log] audit_max entries, which GET /audit serves to admins.
#pragma once

#include <Poco/JSON/Array.h>

#include <functional>

#include <fstream>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace exed::http::security {

struct AuditEntry {
    std::string token;      // empty: no (valid) token
    std::string remote;
    std::string method;
    std::string path;
    std::string operation;
    std::vector<std::string> targets;
    std::string jid;
    int status = 0;
};

// Where the capped copy of the trail lives (jobs/audit_stream, wired by the
// app: the face does not reach Redis itself).
struct AuditStore {
    std::function<void(const std::string& line, int max_entries)> append;
    // (id, line), newest first, at most `limit`.
    std::function<std::vector<std::pair<std::string, std::string>>(int limit)> recent;
};

// Whether a request is audited: anything but a read, and sync operations.
bool audited(const std::string& method, const std::string& path);

class AuditLog {
public:
    // `file` may be empty (Redis stream only). Throws std::runtime_error
    // when the file cannot be opened.
    AuditLog(const std::string& file, int max_entries, AuditStore store);
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;
    void record(const AuditEntry& e);
    // Newest first, at most `limit`.
    Poco::JSON::Array::Ptr recent(int limit);

private:
    std::mutex mu_;
    int fd_ = -1;
    int max_;
    AuditStore store_;
};

}  // namespace exed::http::security
