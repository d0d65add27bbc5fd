#include "http/security/security.hpp"

#include "catalogue.hpp"
#include "http/api_error.hpp"
#include "http/context.hpp"
#include "http/job_json.hpp"
#include "http/router.hpp"
#include "operate/numbers.hpp"


#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <csignal>

namespace exed::http::security {

namespace {

std::string bearer(const Poco::Net::HTTPServerRequest& req) {
    std::string got = req.get("Authorization", "");
    const std::string prefix = "Bearer ";
    return got.rfind(prefix, 0) == 0 ? got.substr(prefix.size()) : std::string();
}

bool simple_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') return false;
    return true;
}

}  // namespace

Security::Security(SecuritySettings settings, const Settings& core, AuditStore audit, HostAcl::Expand expand)
    : settings_(std::move(settings)),
      core_(core),
      tokens_(settings_.tokens_file, settings_.auth_token),
      acl_(std::move(expand)),
      browser_(settings_),
      limiter_(settings_.rate_limit),
      redactor_(settings_.secret_args),
      audit_(settings_.audit_log, settings_.audit_max, std::move(audit)),
      anonymous_(std::make_shared<Caller>(Caller{"anonymous", Admin | Read | Run | Deploy | Release, {"*"}})) {}

void Security::admit(Context& ctx, const std::string& path) {
    browser_.check(ctx.request);
    unsigned scope = route_scope(ctx.request.getMethod(), path);
    std::shared_ptr<const Caller> caller;
    if (tokens_.empty()) {
        caller = anonymous_;
    } else {
        std::string token = bearer(ctx.request);
        if (!token.empty()) caller = tokens_.find(token);
    }
    std::string bucket = rate_bucket(ctx.request.getMethod(), path);
    std::string key = caller ? "token:" + caller->name : "addr:" + ctx.request.clientAddress().host().toString();
    if (int wait = bucket.empty() ? 0 : limiter_.take(bucket + key)) {
        ctx.response.set("Retry-After", std::to_string(wait));
        throw ApiError(429, fmt::format("rate limit of {:g} requests/s exceeded; retry in {} s",
                                        settings_.rate_limit, wait));
    }
    ctx.caller = caller;
    if (scope == 0) return;
    if (!caller) throw ApiError(401, "authentication required: send Authorization: Bearer <token>");
    require_scope(*caller, Scope(scope), "for " + ctx.request.getMethod() + " " + path);
}

std::vector<std::string> Security::release_roots(const Poco::JSON::Object::Ptr& args) const {
    if (!settings_.release_roots.empty()) return settings_.release_roots;
    // Default: the root the releaser is configured with ([<apptype>] root).
    std::string type =
        args && args->has(catalogue::arg::apptype) ? args->getValue<std::string>(catalogue::arg::apptype) : "";
    if (simple_name(type) && core_.raw && core_.raw->hasProperty(type + ".root"))
        return {core_.raw->getString(type + ".root")};
    return {"/srv/apps"};
}

void Security::authorise(const Caller& caller, const std::string& op, const Poco::JSON::Object::Ptr& args,
                         const std::vector<std::string>& hosts) {
    require_scope(caller, operation_scope(op), "for " + op);
    acl_.require_hosts(caller, hosts);
    const auto* o = catalogue::find(op);  // a releaser's extra_opts.root must be an allowed root
    if (o && o->kind == catalogue::Kind::Releaser) require_release_root(args, release_roots(args));
}

void Security::authorise_change(const Caller& caller, const jobs::Job& job) {
    require_scope(caller, operation_scope(job.operate), "to change a " + job.operate + " job");
    acl_.require_hosts(caller, job.targets);
}

std::vector<std::string> Security::visible_hosts(const Caller& caller, const std::vector<std::string>& hosts) {
    auto outside = acl_.outside(caller, hosts);
    if (outside.empty()) return hosts;
    std::vector<std::string> out;
    for (const auto& h : hosts)
        if (std::find(outside.begin(), outside.end(), h) == outside.end()) out.push_back(h);
    return out;
}

Poco::JSON::Object::Ptr Security::public_job(const jobs::Job& job,
                                             const std::map<std::string, std::string>* returns) const {
    auto o = job_json(job, returns);
    redactor_.job(o);
    return o;
}

void Security::record(const Context& ctx, const std::string& path) {
    const auto& req = ctx.request;
    if (!audited(req.getMethod(), path)) return;
    AuditEntry e;
    e.token = ctx.caller ? ctx.caller->name : "";
    e.remote = req.clientAddress().host().toString();
    e.method = req.getMethod();
    e.path = path;
    size_t b = path.find_first_not_of('/');
    e.operation = b == std::string::npos ? "" : path.substr(b, path.find('/', b) - b);
    if (e.operation == "jobs") e.operation = req.getMethod() == "DELETE" ? "delete" : "cancel";
    e.targets = ctx.targets;
    e.jid = ctx.response.get("X-Exed-Jid", "");
    std::string location = ctx.response.get("Location", "");
    if (e.jid.empty() && location.rfind("/jobs/", 0) == 0) e.jid = location.substr(6);
    if (e.jid.empty() && ctx.params.count("jid")) e.jid = ctx.params.at("jid");
    e.status = int(ctx.response.getStatus());
    audit_.record(e);
}

void Security::add_routes(Router& router) {
    router.add("GET", "/audit", [this](Context& c) {
        c.only_params({"limit"});
        int limit = 100;
        if (c.query.has("limit"))
            limit = int(operate::require_text_integer(c.query.get("limit"), 1, 10000,
                                                      operate::range_message("limit", 1, 10000)));
        c.json(200, audit_.recent(limit));
    });
}

void reload_tokens_on_sighup() {
    struct sigaction sa {};
    sa.sa_handler = [](int) { TokenTable::request_reload(); };
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, nullptr);
}

}  // namespace exed::http::security
