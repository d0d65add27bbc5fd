// /ping /facter /service /execute /deploy /release and /target(s).
// POST = async (201 {"jid"}), GET with target= = sync (the same job path,
// waiting for the end, every matched host in the answer).
#include "catalogue.hpp"
#include "errors.hpp"
#include "http/api_error.hpp"
#include "http/router.hpp"
#include "http/security/route_hooks.hpp"
#include "http/services.hpp"
#include "json.hpp"
#include "operate/validate.hpp"

#include <Poco/JSON/Array.h>

#include <chrono>
#include <map>

namespace exed::http {

namespace {

void async_op(Services& s, Context& ctx, const std::string& op) {
    operate::Submission sub;
    sub.operate = op;
    ctx.only_params({});
    sub.args = operate::args_from_body(op, ctx.body_object(), sub.patterns, sub.run_timeout);
    security::authorise_submission(s, ctx, sub);
    auto job = s.submitter.submit(sub);
    Poco::JSON::Object out;
    out.set("jid", job.jid);
    ctx.response.set("Location", "/jobs/" + job.jid);
    ctx.json(201, out);
}

void sync_op(Services& s, Context& ctx, const std::string& op) {
    // sync_timeout counts from here: every wait below (a plugin host being
    // restarted, the job) ends by this deadline, answered 504 (issue 23).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(s.settings.sync_timeout);
    operate::RequestDeadline scope(deadline);  // the ACL's target expansion too
    operate::Submission sub;
    sub.operate = op;
    sub.sync = true;
    sub.deadline = deadline;
    operate::Query query(ctx.query.begin(), ctx.query.end());
    sub.args = operate::args_from_query(op, query, sub.patterns);
    security::authorise_submission(s, ctx, sub);
    auto job = s.submitter.submit(sub);
    auto done = s.submitter.wait(job.jid, deadline);
    if (!done) {
        DomainError e(Errc::timeout, "the operation did not finish within " +
                                         std::to_string(s.settings.sync_timeout) +
                                         " s; it goes on as job " + job.jid + " (GET /jobs/" +
                                         job.jid + "?follow=1)");
        e.jid = job.jid;
        throw e;
    }
    auto returns = s.jobs.returns(job.jid);
    if (returns.empty() && done->state() != jobs::Done) {
        Poco::JSON::Object::Ptr extra = new Poco::JSON::Object;
        extra->set("jid", job.jid);
        throw ApiError(operate::ended_by_crash(*done) ? 502 : 500,
                       done->error.empty() ? "the operation failed" : done->error, extra);
    }
    Poco::JSON::Object out;
    for (auto& [host, json] : returns) {
        try {
            out.set(host, parse_json(json));
        } catch (const Poco::Exception&) {  // a plugin's result that is not JSON: as text
            out.set(host, json);
        }
    }
    ctx.response.set("X-Exed-Jid", job.jid);
    ctx.json(200, out);
}

// EXEd's answer is an array of names; `detail=1` adds each host's state
// from the executor's own node status: a known agent node whose agent is
// disconnected is still a target (its operations answer status 3), listed
// "down" (issue 24). "unknown" where the executor tracks no status (ansible,
// salt: a ping says).
void targets(Services& s, Context& ctx) {
    ctx.only_params({"pattern", "detail"});
    std::string pattern = ctx.query.get("pattern", "*");
    if (pattern.empty()) pattern = "*";
    bool detail = ctx.flag("detail");
    auto hosts = security::visible_hosts(s, ctx, s.submitter.expand({pattern}));  // no match: []
    Poco::JSON::Array out;
    if (!detail) {
        for (auto& h : hosts) out.add(h);
        ctx.json(200, out);
        return;
    }
    std::map<std::string, bool> up;
    if (auto nodes = s.submitter.node_states())  // throws when the op fails: a 500 naming it
        for (auto& n : *nodes) up[n.name] = n.up;
    for (auto& h : hosts) {
        Poco::JSON::Object o;
        o.set("name", h);
        auto it = up.find(h);
        o.set("state", it == up.end() ? "unknown" : it->second ? "up" : "down");
        out.add(o);
    }
    ctx.json(200, out);
}

}  // namespace

void add_operate_routes(Router& r, Services& s) {
    for (const auto& op : catalogue::operations()) {
        std::string name = op.name;
        r.add("POST", "/" + name, [&s, name](Context& c) { async_op(s, c, name); });
        if (op.sync_allowed)
            r.add("GET", "/" + name, [&s, name](Context& c) { sync_op(s, c, name); });
    }
    r.add("GET", "/target", [&s](Context& c) { targets(s, c); });
    r.add("GET", "/targets", [&s](Context& c) { targets(s, c); });
}

}  // namespace exed::http
