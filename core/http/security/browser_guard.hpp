// Refuses what a browser sends on behalf of another site: the defence of a
// daemon that runs commands even when nobody configured tokens (a browser
// never attaches a bearer token by itself, but it does reach loopback).
//  - Sec-Fetch-Site other than same-origin/none (modern browsers send it on
//    every request, <img> included), an Origin not in [api] allowed_origins,
//    or a Referer from another origin -> 403;
//  - a Host that is neither the listen address nor in [api] allowed_hosts
//    -> 421 (DNS rebinding: the attacker's name resolving to us).
// Content-Type is deliberately not checked: `curl -d` keeps working.
#pragma once

#include "http/security/settings.hpp"

#include <Poco/Net/HTTPServerRequest.h>

#include <string>

namespace exed::http::security {

class BrowserGuard {
public:
    explicit BrowserGuard(const SecuritySettings& s);
    // Throws ApiError 403/421 when the request must be refused.
    void check(const Poco::Net::HTTPServerRequest& req) const;

private:
    bool host_allowed(const std::string& host_header) const;
    bool origin_allowed(const std::string& origin) const;

    std::string listen_;
    bool listen_wildcard_ = false;
    bool listen_loopback_ = false;
    std::vector<std::string> allowed_hosts_;
    std::vector<std::string> allowed_origins_;
};

}  // namespace exed::http::security
