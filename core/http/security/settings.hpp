// The security keys of exe.conf ([api] tokens/TLS/browser/rate limit,
// [log] audit, [release] roots), read from the parsed INI next to the core
// Settings so the shared config code stays untouched.
#pragma once

#include "config.hpp"

#include <string>
#include <vector>

namespace exed::http::security {

struct SecuritySettings {
    std::string tokens_file;                   // empty: no token file
    std::string auth_token;                    // legacy single token (admin)
    bool insecure = false;                     // allow a non-loopback listen without tokens
    std::vector<std::string> allowed_origins;  // exact "scheme://host[:port]"
    std::vector<std::string> allowed_hosts;    // extra Host names (DNS rebinding defence)
    double rate_limit = 0;                     // requests/s per token; 0: off
    std::string tls_cert, tls_key, tls_ca;
    std::string tls_client_auth = "none";      // none | optional | required
    std::vector<std::string> secret_args;      // extra dotted arg paths shown as "***"
    std::string audit_log;                     // empty: no audit file
    int audit_max = 10000;                     // entries kept in the Redis stream
    std::vector<std::string> release_roots;    // allowed extra_opts.root prefixes
    std::string listen;                        // copied from [api] listen

    bool tokens_configured() const { return !tokens_file.empty() || !auth_token.empty(); }
    bool tls() const { return !tls_cert.empty(); }
};

// Throws ConfigError with one clear sentence on a bad value.
SecuritySettings load_security_settings(const Settings& s);

// Whether `host` (an address or name as written in [api] listen) is loopback.
bool is_loopback(const std::string& host);

// Why exed must not start with these settings (empty: it may start).
std::string startup_refusal(const SecuritySettings& s);

}  // namespace exed::http::security
