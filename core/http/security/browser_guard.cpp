#include "http/security/browser_guard.hpp"

#include "http/api_error.hpp"

#include <Poco/Net/IPAddress.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>

namespace exed::http::security {

namespace {

// "host", "host:port", "[v6]:port" -> host (lowercase, no brackets).
std::string host_part(const std::string& header) {
    std::string h = Poco::toLower(Poco::trim(header));
    if (!h.empty() && h[0] == '[') {
        size_t e = h.find(']');
        return e == std::string::npos ? h : h.substr(1, e - 1);
    }
    size_t colon = h.find(':');
    if (colon != std::string::npos && h.find(':', colon + 1) == std::string::npos) h.resize(colon);
    if (!h.empty() && h.back() == '.') h.pop_back();
    return h;
}

bool same_ip(const std::string& a, const std::string& b) {
    Poco::Net::IPAddress x, y;
    return Poco::Net::IPAddress::tryParse(a, x) && Poco::Net::IPAddress::tryParse(b, y) && x == y;
}

}  // namespace

BrowserGuard::BrowserGuard(const SecuritySettings& s)
    : listen_(Poco::toLower(s.listen)), allowed_hosts_(), allowed_origins_(s.allowed_origins) {
    listen_wildcard_ = listen_ == "0.0.0.0" || listen_ == "::" || listen_ == "*";
    listen_loopback_ = is_loopback(listen_);
    for (const auto& h : s.allowed_hosts) allowed_hosts_.push_back(host_part(h));
}

bool BrowserGuard::host_allowed(const std::string& header) const {
    std::string host = host_part(header);
    if (host.empty()) return true;  // HTTP/1.0 without Host: not a browser
    if (std::find(allowed_hosts_.begin(), allowed_hosts_.end(), host) != allowed_hosts_.end()) return true;
    if (host == listen_ || same_ip(host, listen_)) return true;
    Poco::Net::IPAddress ip;
    bool literal = Poco::Net::IPAddress::tryParse(host, ip);
    // A wildcard listen answers on every local address: any address literal
    // is fine (rebinding needs a name); names must be listed.
    if (listen_wildcard_ && literal) return true;
    // On loopback, the loopback names and addresses mean this very host.
    if (listen_loopback_ && (host == "localhost" || (literal && ip.isLoopback()))) return true;
    return false;
}

bool BrowserGuard::origin_allowed(const std::string& origin) const {
    std::string o = Poco::toLower(Poco::trim(origin));
    while (!o.empty() && o.back() == '/') o.pop_back();
    for (auto a : allowed_origins_) {
        a = Poco::toLower(a);
        while (!a.empty() && a.back() == '/') a.pop_back();
        if (a == o) return true;
    }
    return false;
}

void BrowserGuard::check(const Poco::Net::HTTPServerRequest& req) const {
    std::string host = req.get("Host", "");
    if (!host_allowed(host))
        throw ApiError(421, "Host '" + host + "' is not this server's address; add it to [api] allowed_hosts");
    bool has_origin = req.has("Origin");
    std::string origin = req.get("Origin", "");
    if (has_origin && !origin_allowed(origin))
        throw ApiError(403, "cross-origin request refused: Origin '" + origin + "' is not in [api] allowed_origins");
    std::string site = Poco::toLower(req.get("Sec-Fetch-Site", ""));
    if (!site.empty() && site != "same-origin" && site != "none" && !(has_origin && origin_allowed(origin)))
        throw ApiError(403, "cross-site request refused (Sec-Fetch-Site: " + site + ")");
    std::string referer = req.get("Referer", "");
    if (!referer.empty() && !has_origin) {
        // Older browsers send neither Origin nor Sec-Fetch-Site on a plain
        // GET, but usually a Referer: its origin must be allowed too.
        try {
            Poco::URI uri(referer);
            std::string ref_origin = uri.getScheme() + "://" + uri.getAuthority();
            bool same = Poco::toLower(uri.getAuthority()) == Poco::toLower(host);
            if (!same && !origin_allowed(ref_origin))
                throw ApiError(403, "cross-site request refused: Referer from " + ref_origin);
        } catch (const Poco::SyntaxException&) {
            throw ApiError(403, "cross-site request refused: unreadable Referer");
        }
    }
}

}  // namespace exed::http::security
