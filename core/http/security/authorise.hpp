// Authorisation, shared by every face (REST, Shovey, agent listener):
// which scope a route needs, whether a caller may act on expanded hosts,
// which jobs a caller may see. Faces call these with the route's scope and
// the targets after expansion, before any job exists.
//
// Target ACLs: a token's patterns are in the executor's pattern syntax, so
// they are evaluated by the executor itself: each pattern is expanded
// through its targets operation into host names (unmatched patterns give
// no hosts), and a request's expanded hosts must all be in that set. The
// expansion is cached per token for a few seconds (kHostCacheSeconds), so
// an inventory change reaches the ACL within that time; "*" needs no
// expansion at all.
#pragma once

#include "http/security/tokens.hpp"

#include <Poco/JSON/Object.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace exed::http::security {

// 0 = no authentication needed (GET /health).
unsigned route_scope(const std::string& method, const std::string& path);
// Which [api] rate_limit bucket a request draws from, prefixed to the
// caller's key: "" = none (GET /health: probes must never be refused for the
// API traffic of the same address), "metrics:" (scrapes have a bucket of their
// own, so a scraper neither starves nor is starved by API calls), "api:" the rest.
std::string rate_bucket(const std::string& method, const std::string& path);
// The scope changing a job of operation `op` needs (cancel, delete).
Scope operation_scope(const std::string& op);

// Throws ApiError(403) when the caller lacks `scope`.
void require_scope(const Caller& caller, Scope scope, const std::string& what);

class HostAcl {
public:
    static constexpr int kHostCacheSeconds = 5;
    // Expands one pattern to host names through the executor (empty when
    // nothing matches).
    using Expand = std::function<std::vector<std::string>(const std::string& pattern)>;
    explicit HostAcl(Expand expand) : expand_(std::move(expand)) {}

    // Hosts of `hosts` outside the caller's patterns (empty: all allowed).
    std::vector<std::string> outside(const Caller& caller, const std::vector<std::string>& hosts);
    // Throws ApiError(403) naming the hosts outside the caller's patterns.
    void require_hosts(const Caller& caller, const std::vector<std::string>& hosts);
    // Throws ApiError(403) unless the caller is admin or has the agent
    // scope with `node` in its patterns: named literally, or matched
    // through the executor like any host (a reporting agent's node need
    // not be a target of the executor right now).
    void require_agent_for(const Caller& caller, const std::string& node);
    // Whether the caller may see (read) a job on these hosts.
    bool may_see(const Caller& caller, const std::vector<std::string>& hosts) {
        return outside(caller, hosts).empty();
    }

private:
    struct Cached {
        std::set<std::string> hosts;
        std::chrono::steady_clock::time_point at;
    };
    std::set<std::string> hosts_of(const Caller& caller);

    Expand expand_;
    std::mutex mu_;
    std::map<std::string, Cached> cache_;  // key: name + patterns
};

// Release roots: extra_opts.root must lie in one of `roots` (equal or
// below, on path-segment boundaries). Throws ApiError(403) otherwise.
// A root that is not an absolute path is left to the releaser (400).
void require_release_root(const Poco::JSON::Object::Ptr& args, const std::vector<std::string>& roots);

}  // namespace exed::http::security
