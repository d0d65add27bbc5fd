#include "http/security/audit.hpp"
#include "json.hpp"


#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Timestamp.h>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace exed::http::security {

bool audited(const std::string& method, const std::string& path) {
    if (method != "GET" && method != "HEAD") return true;
    for (const char* op : {"/ping", "/facter", "/service", "/execute", "/deploy"})
        if (path == op || path == std::string(op) + "/") return true;
    return false;
}

AuditLog::AuditLog(const std::string& file, int max_entries, AuditStore store)
    : max_(max_entries), store_(std::move(store)) {
    if (file.empty() || file == "-") return;
    fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0) throw std::runtime_error("audit_log " + file + ": " + std::strerror(errno));
    ::fchmod(fd_, 0640);  // whatever the umask, and for a file made earlier
}

AuditLog::~AuditLog() {
    if (fd_ >= 0) ::close(fd_);
}

void AuditLog::record(const AuditEntry& e) {
    Poco::JSON::Object o;
    o.set("time", Poco::DateTimeFormatter::format(Poco::Timestamp(), Poco::DateTimeFormat::ISO8601_FRAC_FORMAT));
    o.set("token", e.token.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(e.token));
    o.set("remote", e.remote);
    o.set("method", e.method);
    o.set("path", e.path);
    o.set("operation", e.operation);
    Poco::JSON::Array targets;
    for (const auto& t : e.targets) targets.add(t);
    o.set("targets", targets);
    o.set("jid", e.jid.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(e.jid));
    o.set("status", e.status);
    std::string line = json_string(o);
    if (fd_ >= 0) {
        std::string out = line + "\n";
        std::lock_guard<std::mutex> lock(mu_);
        // One write() per line on an O_APPEND file: lines never interleave.
        if (::write(fd_, out.data(), out.size()) != ssize_t(out.size()))
            Poco::Logger::get("exed.security").error(std::string("audit_log write failed: ") + std::strerror(errno));
    }
    try {
        if (store_.append) store_.append(line, max_);
    } catch (const std::exception& ex) {
        Poco::Logger::get("exed.security").error(std::string("audit stream: ") + ex.what() + ": " + line);
    }
}

Poco::JSON::Array::Ptr AuditLog::recent(int limit) {
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    if (!store_.recent) return out;
    for (const auto& [id, line] : store_.recent(limit)) {
        try {
            auto v = parse_json(line);
            Poco::JSON::Object::Ptr entry = v.extract<Poco::JSON::Object::Ptr>();
            entry->set("id", id);
            out->add(entry);
        } catch (const Poco::Exception&) {
        }
    }
    return out;
}

}  // namespace exed::http::security
