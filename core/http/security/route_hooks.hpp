// The one-line hooks the REST routes call: they bind Security to the HTTP
// Context and the route's Services.
#pragma once

#include "http/context.hpp"
#include "http/services.hpp"
#include "jobs/model.hpp"
#include "operate/submitter.hpp"

namespace exed::http::security {

// Expands the submission's targets and authorises them (403 naming hosts
// outside the caller's patterns), before any job exists.
void authorise_submission(Services& s, Context& c, const operate::Submission& sub);
// 404 when the caller may not see the job (its existence is not revealed).
void require_visible(Services& s, Context& c, const jobs::Job& job);
// Scope and hosts for cancel/delete.
void authorise_change(Services& s, Context& c, const jobs::Job& job);
bool visible(Services& s, Context& c, const jobs::Job& job);
// Whether job listings must be filtered for this caller (not admin, not "*").
bool filters_jobs(const Context& c);
// Host listings restricted to what the caller may see.
std::vector<std::string> visible_hosts(Services& s, Context& c, const std::vector<std::string>& hosts);
// A public job record with secrets masked.
Poco::JSON::Object::Ptr public_job(Services& s, const jobs::Job& job,
                                   const std::map<std::string, std::string>* returns = nullptr);

}  // namespace exed::http::security
