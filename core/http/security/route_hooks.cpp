#include "http/security/route_hooks.hpp"

#include "http/api_error.hpp"
#include "http/security/security.hpp"

namespace exed::http::security {

namespace {

const Caller& caller_of(Context& c) {
    if (!c.caller) throw ApiError(401, "authentication required: send Authorization: Bearer <token>");
    return *c.caller;
}

}  // namespace

void authorise_submission(Services& s, Context& c, const operate::Submission& sub) {
    const Caller& who = caller_of(c);
    c.targets = s.submitter.expand(sub.patterns);
    s.security.authorise(who, sub.operate, sub.args, c.targets);
}

bool filters_jobs(const Context& c) { return !c.caller || !(c.caller->admin() || c.caller->all_hosts()); }

bool visible(Services& s, Context& c, const jobs::Job& job) { return s.security.may_see(caller_of(c), job); }

void require_visible(Services& s, Context& c, const jobs::Job& job) {
    if (!visible(s, c, job)) throw ApiError(404, "no such job: " + job.jid);
}

void authorise_change(Services& s, Context& c, const jobs::Job& job) {
    require_visible(s, c, job);
    c.targets = job.targets;
    s.security.authorise_change(caller_of(c), job);
}

std::vector<std::string> visible_hosts(Services& s, Context& c, const std::vector<std::string>& hosts) {
    return s.security.visible_hosts(caller_of(c), hosts);
}

Poco::JSON::Object::Ptr public_job(Services& s, const jobs::Job& job,
                                   const std::map<std::string, std::string>* returns) {
    return s.security.public_job(job, returns);
}

}  // namespace exed::http::security
