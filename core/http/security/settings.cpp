#include "http/security/settings.hpp"

#include <Poco/Net/IPAddress.h>
#include <Poco/NumberParser.h>
#include <Poco/String.h>
#include <Poco/StringTokenizer.h>

#include <fmt/format.h>

#include <unistd.h>

namespace exed::http::security {

namespace {

std::vector<std::string> comma_list(const std::string& s) {
    Poco::StringTokenizer t(s, ",", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
    return {t.begin(), t.end()};
}

std::string readable_file(const Poco::Util::AbstractConfiguration& c, const std::string& key) {
    std::string path = Poco::trim(c.getString(key, ""));
    if (!path.empty() && access(path.c_str(), R_OK) != 0)
        throw ConfigError(fmt::format("{}: {} is not readable", key, path));
    return path;
}

}  // namespace

bool is_loopback(const std::string& host) {
    if (host == "localhost") return true;
    Poco::Net::IPAddress ip;
    return Poco::Net::IPAddress::tryParse(host, ip) && ip.isLoopback();
}

SecuritySettings load_security_settings(const Settings& st) {
    SecuritySettings s;
    s.listen = st.listen;
    s.auth_token = st.auth_token;
    if (!st.raw) return s;
    const auto& c = *st.raw;
    s.tokens_file = readable_file(c, "api.tokens_file");
    try {
        s.insecure = c.getBool("api.insecure", false);
    } catch (const Poco::Exception&) {
        throw ConfigError("api.insecure: expected true or false, got '" + c.getString("api.insecure") + "'");
    }
    s.allowed_origins = comma_list(c.getString("api.allowed_origins", ""));
    s.allowed_hosts = comma_list(c.getString("api.allowed_hosts", ""));
    std::string rate = Poco::trim(c.getString("api.rate_limit", "0"));
    if (!Poco::NumberParser::tryParseFloat(rate, s.rate_limit) || s.rate_limit < 0 || s.rate_limit > 1e6)
        throw ConfigError("api.rate_limit: expected requests per second from 0 (off) to 1000000, got '" + rate + "'");
    s.tls_cert = readable_file(c, "api.tls_cert");
    s.tls_key = readable_file(c, "api.tls_key");
    s.tls_ca = readable_file(c, "api.tls_ca");
    s.tls_client_auth = Poco::trim(c.getString("api.tls_client_auth", "none"));
    if (s.tls_client_auth != "none" && s.tls_client_auth != "optional" && s.tls_client_auth != "required")
        throw ConfigError("api.tls_client_auth: expected none, optional or required, got '" + s.tls_client_auth + "'");
    if (s.tls_cert.empty() != s.tls_key.empty())
        throw ConfigError("api.tls_cert and api.tls_key go together: set both or neither");
    if (s.tls_client_auth != "none" && (s.tls_ca.empty() || s.tls_cert.empty()))
        throw ConfigError("api.tls_client_auth = " + s.tls_client_auth + " needs api.tls_cert, api.tls_key and api.tls_ca");
    s.secret_args = comma_list(c.getString("api.secret_args", ""));
    s.audit_log = Poco::trim(c.getString("log.audit_log", ""));
    std::string max = Poco::trim(c.getString("log.audit_max", "10000"));
    if (!Poco::NumberParser::tryParse(max, s.audit_max) || s.audit_max < 1 || s.audit_max > 10000000)
        throw ConfigError("log.audit_max: expected an integer in [1, 10000000], got '" + max + "'");
    s.release_roots = comma_list(c.getString("release.roots", ""));
    for (const auto& r : s.release_roots)
        if (r.empty() || r[0] != '/' || r.find("..") != std::string::npos)
            throw ConfigError("release.roots: '" + r + "' is not an absolute path without '..'");
    return s;
}

std::string startup_refusal(const SecuritySettings& s) {
    if (is_loopback(s.listen) || s.tokens_configured() || s.insecure) return {};
    return fmt::format("refusing to listen on {} without tokens: set [api] tokens_file (or auth_token), "
                       "or [api] insecure = true to serve everyone on the network", s.listen);
}

}  // namespace exed::http::security
