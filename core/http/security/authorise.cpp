#include "http/security/authorise.hpp"

#include "catalogue.hpp"
#include "http/api_error.hpp"

#include <Poco/String.h>

namespace exed::http::security {

namespace {

std::string first_segment(const std::string& path) {
    size_t b = path.find_first_not_of('/');
    if (b == std::string::npos) return "";
    size_t e = path.find('/', b);
    return path.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

// PUT /shovey/jobs/<id>/<node> and PUT /shovey/stream/<id>/<node>: an
// agent reporting its run (not /shovey/jobs/cancel, one segment shorter).
bool agent_report(const std::string& method, const std::string& path) {
    if (method != "PUT") return false;
    std::vector<std::string> segs;
    for (size_t b = path.find_first_not_of('/'); b != std::string::npos && segs.size() < 5;
         b = path.find_first_not_of('/', b)) {
        size_t e = path.find('/', b);
        segs.push_back(path.substr(b, e == std::string::npos ? std::string::npos : e - b));
        b = e;
    }
    return segs.size() == 4 && segs[0] == "shovey" && (segs[1] == "jobs" || segs[1] == "stream");
}

Scope scope_of(catalogue::Scope s) {
    switch (s) {
        case catalogue::Scope::Run: return Run;
        case catalogue::Scope::Deploy: return Deploy;
        case catalogue::Scope::Release: return Release;
    }
    return Admin;  // unreachable: deny by default
}

}  // namespace

unsigned route_scope(const std::string& method, const std::string& path) {
    std::string seg = first_segment(path);
    if (agent_report(method, path)) return Agent;  // the node is checked by the route
    bool reading = method == "GET" || method == "HEAD";
    if (seg == "health") return 0;
    if (seg == "plugins" || seg == "audit" || seg == "nodes") return Admin;
    if (const auto* op = catalogue::find(seg))  // an operation: the catalogue says which scope
        // GET /release (a releaser's operation) lists the releasers instead.
        return reading && op->kind == catalogue::Kind::Releaser ? Read : scope_of(op->scope);
    if ((seg == "jobs" || seg == "shovey") && !reading) return Run;  // jobs: refined per job
    if (!reading) return Admin;  // a change nothing above names: deny by default
    return Read;                 // targets, jobs, Shovey reads, node status, unknown (404)
}

std::string rate_bucket(const std::string& method, const std::string& path) {
    std::string seg = first_segment(path);
    bool reading = method == "GET" || method == "HEAD";
    if (reading && seg == "health") return "";
    if (reading && seg == "metrics") return "metrics:";
    return "api:";
}

Scope operation_scope(const std::string& op) {
    const auto* o = catalogue::find(op);
    return o ? scope_of(o->scope) : Run;
}

void require_scope(const Caller& caller, Scope scope, const std::string& what) {
    if (!caller.has(scope))
        throw ApiError(403, "token '" + caller.name + "' lacks the '" + scope_name(scope) + "' scope " + what);
}

std::set<std::string> HostAcl::hosts_of(const Caller& caller) {
    std::string key = caller.name;
    for (const auto& p : caller.patterns) key += "\n" + p;
    auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = cache_.find(key);
        if (it != cache_.end() && now - it->second.at < std::chrono::seconds(kHostCacheSeconds))
            return it->second.hosts;
    }
    std::set<std::string> hosts;
    for (const auto& p : caller.patterns)
        for (auto& h : expand_(p)) hosts.insert(std::move(h));
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() > 1000) cache_.clear();  // bounded: one entry per token in use
    cache_[key] = Cached{hosts, now};
    return hosts;
}

std::vector<std::string> HostAcl::outside(const Caller& caller, const std::vector<std::string>& hosts) {
    if (caller.admin() || caller.all_hosts() || hosts.empty()) return {};
    auto allowed = hosts_of(caller);
    std::vector<std::string> out;
    for (const auto& h : hosts)
        if (!allowed.count(h)) out.push_back(h);
    return out;
}

void HostAcl::require_hosts(const Caller& caller, const std::vector<std::string>& hosts) {
    auto bad = outside(caller, hosts);
    if (bad.empty()) return;
    const size_t shown = 20;  // a long list would make an unbounded message
    std::vector<std::string> head(bad.begin(), bad.begin() + std::min(shown, bad.size()));
    std::string more = bad.size() > shown ? " and " + std::to_string(bad.size() - shown) + " more" : "";
    throw ApiError(403, "token '" + caller.name + "' may not act on: " + joined(head) + more);
}

void HostAcl::require_agent_for(const Caller& caller, const std::string& node) {
    require_scope(caller, Agent, "to report for node " + node.substr(0, 64));
    for (const auto& p : caller.patterns)
        if (p == node) return;
    require_hosts(caller, {node});
}

void require_release_root(const Poco::JSON::Object::Ptr& args, const std::vector<std::string>& roots) {
    auto opts = args ? args->getObject("extra_opts") : nullptr;
    if (!opts || !opts->has("root") || !opts->get("root").isString()) return;
    std::string root = opts->getValue<std::string>("root");
    if (root.empty() || root[0] != '/' || root.find("..") != std::string::npos) return;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    for (std::string allowed : roots) {
        while (allowed.size() > 1 && allowed.back() == '/') allowed.pop_back();
        if (root == allowed || allowed == "/" ||
            (root.size() > allowed.size() && root.compare(0, allowed.size(), allowed) == 0 &&
             root[allowed.size()] == '/'))
            return;
    }
    throw ApiError(403, "extra_opts.root " + root + " is outside the allowed release roots (" + joined(roots) +
                            "; see [release] roots)");
}

}  // namespace exed::http::security
