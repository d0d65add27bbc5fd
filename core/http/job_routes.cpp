// /jobs: list (paginated from the index), get, follow (NDJSON or SSE from
// the job's Redis stream), delete, cancel.
#include "http/api_error.hpp"
#include "http/event_format.hpp"
#include "http/follow_hub.hpp"
#include "http/job_json.hpp"
#include "http/router.hpp"
#include "http/security/route_hooks.hpp"
#include "http/services.hpp"
#include "json.hpp"
#include "metrics/metrics.hpp"
#include "operate/numbers.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/RegularExpression.h>

#include <ostream>

namespace exed::http {

namespace {

void list_jobs(Services& s, Context& c) {
    c.only_params({"detail", "limit", "cursor"});
    int limit = 1000;
    if (c.query.has("limit"))
        limit = int(operate::require_text_integer(c.query.get("limit"), 1, 10000,
                                                  operate::range_message("limit", 1, 10000)));
    std::string cursor = c.query.get("cursor", "");
    int64_t n = 0;
    if (!cursor.empty() && !operate::text_integer(cursor, 0, INT64_MAX, n))
        throw ApiError(400, "cursor must be the X-Next-Cursor value of a previous page");
    bool detail = c.flag("detail");
    bool filtered = security::filters_jobs(c);  // needs each job's targets
    auto page = s.jobs.list(limit, cursor, detail || filtered);
    Poco::JSON::Array out;
    for (auto& j : page.jobs) {
        if (filtered && !security::visible(s, c, j)) continue;
        if (detail) out.add(security::public_job(s, j));
        else out.add(j.jid);
    }
    if (!page.next_cursor.empty()) {
        c.response.set("X-Next-Cursor", page.next_cursor);
        c.response.set("Link", "</jobs?limit=" + std::to_string(limit) + "&cursor=" +
                                   page.next_cursor + (detail ? "&detail=1" : "") + ">; rel=\"next\"");
    }
    c.json(200, out);
}

// Streams the job: a header, every event from `after` on, then the end.
// NDJSON: {"event": type, "id": stream-id, "data": {...}} per line.
// SSE: "id:", "event:", "data:" blocks; resume with Last-Event-ID.
// The head and the "job" line go out here; then the socket leaves the
// request worker for the FollowHub, which writes the events. The body is
// delimited by the close (Connection: close), not chunked: the hub writes
// raw bytes and Poco's chunk framing stays with the request.
void follow(Services& s, Context& c, const jobs::Job& job, bool sse, const std::string& after) {
    auto* detachable = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&c.request);
    if (!detachable || !s.follow_hub) throw ApiError(503, "follow streams are not available here");
    auto& resp = c.response;
    resp.setChunkedTransferEncoding(false);
    resp.setKeepAlive(false);
    resp.setContentType(sse ? "text/event-stream" : "application/x-ndjson");
    resp.set("Cache-Control", "no-cache");
    resp.set("X-Accel-Buffering", "no");
    std::ostream& out = resp.send();
    out << format_event(sse, "job", "", json_string(security::public_job(s, job)));
    out.flush();
    if (!out.good()) return;  // the client went already
    s.follow_hub->add(detachable->detachSocket(), job.jid, after, sse);
}

void get_job(Services& s, Context& c) {
    c.only_params({"outputs", "follow", "after"});
    auto job = s.jobs.get(c.params["jid"]);
    security::require_visible(s, c, job);
    if (c.flag("follow")) {
        bool sse = c.request.get("Accept", "").find("text/event-stream") != std::string::npos;
        std::string after = c.query.get("after", c.request.get("Last-Event-ID", "0"));
        if (!valid_stream_id(after))
            throw ApiError(400, "event id must look like 1700000000000-0 (two decimals below 2^64)");
        follow(s, c, job, sse, after);
        return;
    }
    if (c.flag("outputs")) {
        auto returns = s.jobs.returns(job.jid);
        c.json(200, security::public_job(s, job, &returns));
    } else {
        c.json(200, security::public_job(s, job));
    }
}

void delete_job(Services& s, Context& c) {
    c.only_params({});
    auto job = s.jobs.get(c.params["jid"]);
    security::authorise_change(s, c, job);
    s.jobs.remove(job.jid);
    c.no_content();
}

void cancel_job(Services& s, Context& c) {
    c.only_params({});
    auto job = s.jobs.get(c.params["jid"]);
    security::authorise_change(s, c, job);
    Poco::JSON::Object out;
    out.set("jid", job.jid);
    if (s.jobs.cancel(job)) {
        out.set("status", jobs::status::cancelled);
        metrics::global().job_ended(job.operate, jobs::status::cancelled);
        c.json(200, out);
        return;
    }
    out.set("status", "cancelling");
    c.json(202, out);
}

}  // namespace

void add_job_routes(Router& r, Services& s) {
    r.add("GET", "/jobs", [&s](Context& c) { list_jobs(s, c); });
    r.add("GET", "/jobs/{jid}", [&s](Context& c) { get_job(s, c); });
    r.add("DELETE", "/jobs/{jid}", [&s](Context& c) { delete_job(s, c); });
    r.add("POST", "/jobs/{jid}/cancel", [&s](Context& c) { cancel_job(s, c); });
}

}  // namespace exed::http
