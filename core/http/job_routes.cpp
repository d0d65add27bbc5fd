// /jobs: list (paginated from the index), get, follow (NDJSON or SSE from
// the job's Redis stream), delete, cancel.
#include "http/api_error.hpp"
#include "http/event_format.hpp"
#include "http/job_json.hpp"
#include "http/router.hpp"
#include "http/security/route_hooks.hpp"
#include "http/services.hpp"
#include "json.hpp"
#include "metrics/metrics.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/NumberParser.h>
#include <Poco/RegularExpression.h>

#include <chrono>
#include <ostream>

namespace exed::http {

namespace {

void list_jobs(Services& s, Context& c) {
    c.only_params({"detail", "limit", "cursor"});
    int limit = 1000;
    if (c.query.has("limit") &&
        (!Poco::NumberParser::tryParse(c.query.get("limit"), limit) || limit < 1 || limit > 10000))
        throw ApiError(400, "limit must be an integer from 1 to 10000");
    std::string cursor = c.query.get("cursor", "");
    Poco::Int64 n = 0;
    if (!cursor.empty() && !Poco::NumberParser::tryParse64(cursor, n))
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
void follow(Services& s, Context& c, const jobs::Job& job, bool sse, std::string after) {
    auto& resp = c.response;
    resp.setChunkedTransferEncoding(true);
    resp.setContentType(sse ? "text/event-stream" : "application/x-ndjson");
    resp.set("Cache-Control", "no-cache");
    resp.set("X-Accel-Buffering", "no");
    std::ostream& out = resp.send();
    auto write = [&](const std::string& type, const std::string& id, const std::string& data) {
        out << format_event(sse, type, id, data);
        out.flush();
    };
    write("job", "", json_string(security::public_job(s, job)));
    auto last_write = std::chrono::steady_clock::now();
    while (out.good()) {
        auto events = s.jobs.events(job.jid, after, 200, 1000);
        for (auto& e : events) {
            write(e.type, e.id, e.data);
            after = e.id;
            if (e.type == "end") return;
        }
        if (!events.empty()) {
            last_write = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - last_write > std::chrono::seconds(15)) {
            // Keeps proxies from closing an idle stream; also detects a gone client.
            if (sse) out << ": keepalive\n\n";
            else out << "\n";
            out.flush();
            last_write = std::chrono::steady_clock::now();
        }
        // The record can vanish (deleted or expired) while we follow.
        if (events.empty() && !s.jobs.find(job.jid)) return;
    }
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
