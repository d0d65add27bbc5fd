// Who may do what, in one object the app builds and the HTTP face (and
// later faces) consult: admit() before routing, authorise() once targets
// are expanded, visible()/public_job() for job reads, record() after the
// answer. See docs/security.md.
#pragma once

#include "catalogue.hpp"
#include "http/security/audit.hpp"
#include "http/security/authorise.hpp"
#include "http/security/browser_guard.hpp"
#include "http/security/rate_limit.hpp"
#include "http/security/redact.hpp"
#include "http/security/settings.hpp"
#include "http/security/tokens.hpp"
#include "jobs/model.hpp"

#include <memory>

namespace exed::http {
struct Context;
class Router;
}

namespace exed::http::security {

class Security {
public:
    // Throws std::runtime_error (bad tokens file, audit log not writable).
    Security(SecuritySettings settings, const Settings& core, AuditStore audit, HostAcl::Expand expand);

    const SecuritySettings& settings() const { return settings_; }

    // Browser checks, authentication (401), rate limit (429), the route's
    // scope (403). Sets ctx.caller.
    void admit(Context& ctx, const std::string& path);

    // For any face: may `caller` run `op` with `args` on these expanded
    // hosts? Throws ApiError(403) naming what is refused.
    void authorise(const Caller& caller, const std::string& op, const Poco::JSON::Object::Ptr& args,
                   const std::vector<std::string>& hosts);
    // Cancelling or deleting a job needs its operation's scope and its hosts.
    void authorise_change(const Caller& caller, const jobs::Job& job);
    bool may_see(const Caller& caller, const jobs::Job& job) { return acl_.may_see(caller, job.targets); }
    bool may_see(const Caller& caller, const std::vector<std::string>& hosts) { return acl_.may_see(caller, hosts); }
    // Run scope and every host within the caller's patterns (403 otherwise).
    void authorise_hosts(const Caller& caller, const std::vector<std::string>& hosts) {
        authorise(caller, EXED_OP_EXECUTE, nullptr, hosts);
    }
    // An agent reporting for `node` (Shovey's agent-facing PUTs): 403
    // unless admin, or the agent scope with the node in its patterns.
    void authorise_agent(const Caller& caller, const std::string& node) { acl_.require_agent_for(caller, node); }
    // Hosts of `hosts` the caller may see (for target listings).
    std::vector<std::string> visible_hosts(const Caller& caller, const std::vector<std::string>& hosts);
    // The public job record, secrets masked.
    Poco::JSON::Object::Ptr public_job(const jobs::Job& job, const std::map<std::string, std::string>* returns) const;
    const Redactor& redactor() const { return redactor_; }
    // What plugins mark secret (SDK 1.2), masked from then on like [api] secret_args.
    void add_secret_args(const std::vector<std::string>& paths) { redactor_.add(paths); }

    // The audit line of a finished exchange (when it is audited).
    void record(const Context& ctx, const std::string& path);
    void add_routes(Router& router);

private:
    std::vector<std::string> release_roots(const Poco::JSON::Object::Ptr& args) const;

    SecuritySettings settings_;
    const Settings& core_;
    TokenTable tokens_;
    HostAcl acl_;
    BrowserGuard browser_;
    RateLimiter limiter_;
    Redactor redactor_;
    AuditLog audit_;
    std::shared_ptr<const Caller> anonymous_;
};

// Installs the SIGHUP handler that reloads the tokens file.
void reload_tokens_on_sighup();

}  // namespace exed::http::security
