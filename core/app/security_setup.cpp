#include "app/security_setup.hpp"

#include "http/api_error.hpp"
#include "http/context.hpp"

#include <Poco/File.h>

#include <iostream>

#include <sys/stat.h>

namespace exed::app {

void tighten_umask() {
    mode_t old = umask(027);
    umask(old | 027);
}

void private_run_dir(const Settings& s) {
    Poco::File(s.run_dir).createDirectories();
    ::chmod(s.run_dir.c_str(), 0700);
}

void restrict_log_files(const Settings& s) {
    for (const auto& path : {s.error_log, s.access_log}) {
        struct stat st {};
        if (path.empty() || path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        ::chmod(path.c_str(), st.st_mode & 0640);
    }
}

int load_security(const Settings& s, http::security::SecuritySettings& out) {
    constexpr int kExitConfig = 78;  // EX_CONFIG
    try {
        out = http::security::load_security_settings(s);
    } catch (const ConfigError& e) {
        std::cerr << "exed: " << e.what() << "\n";
        return kExitConfig;
    }
    std::string refusal = http::security::startup_refusal(out);
    if (!refusal.empty()) {
        std::cerr << "exed: " << refusal << "\n";
        return kExitConfig;
    }
    return 0;
}

shovey::Access shovey_access(http::security::Security& security) {
    auto caller = [](const http::Context& c) -> const http::security::Caller& {
        if (!c.caller) throw ApiError(401, "authentication required: send Authorization: Bearer <token>");
        return *c.caller;
    };
    shovey::Access a;
    a.require_change = [&security, caller](http::Context& c, const std::vector<std::string>& nodes) {
        security.authorise_hosts(caller(c), nodes);
    };
    a.may_see = [&security](const http::Context& c, const std::vector<std::string>& nodes) {
        return c.caller && security.may_see(*c.caller, nodes);
    };
    a.require_report = [&security, caller](http::Context& c, const std::string& node) {
        security.authorise_agent(caller(c), node);
    };
    return a;
}

http::security::AuditStore audit_store(jobs::AuditStream& stream) {
    http::security::AuditStore store;
    store.append = [&stream](const std::string& line, int max_entries) { stream.append(line, max_entries); };
    store.recent = [&stream](int limit) { return stream.recent(limit); };
    return store;
}

}  // namespace exed::app
