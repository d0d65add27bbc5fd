// /jobs: list (paginated from the index), get, follow (NDJSON or SSE from
// the job's Redis stream), delete, cancel.
#include "errors.hpp"
#include "http/router.hpp"
#include "http/services.hpp"
#include "metrics/metrics.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/NumberParser.h>
#include <Poco/RegularExpression.h>

#include <chrono>
#include <ostream>

namespace exed::http {

namespace {

jobs::Job require_job(Services& s, const std::string& jid) {
    static const Poco::RegularExpression shape("^[A-Za-z0-9-]{1,64}$");
    std::optional<jobs::Job> job;
    if (shape.match(jid)) job = s.store.get(jid);
    if (!job) throw ApiError(404, "no such job: " + jid);
    return *job;
}

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
    auto page = s.store.list(limit, cursor, detail);
    Poco::JSON::Array out;
    for (auto& j : page.jobs) {
        if (detail) out.add(j.to_json(nullptr));
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
        if (sse) {
            if (!id.empty()) out << "id: " << id << "\n";
            out << "event: " << type << "\ndata: " << data << "\n\n";
        } else {
            out << "{\"event\":\"" << type << "\"";
            if (!id.empty()) out << ",\"id\":\"" << id << "\"";
            out << ",\"data\":" << data << "}\n";
        }
        out.flush();
    };
    write("job", "", jobs::json_string(job.to_json(nullptr)));
    auto last_write = std::chrono::steady_clock::now();
    while (out.good()) {
        auto events = s.store.events(job.jid, after, 200, 1000);
        for (auto& e : events) {
            write(e.type, e.id, e.data.empty() ? "null" : e.data);
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
        if (events.empty() && !s.store.get(job.jid)) return;
    }
}

void get_job(Services& s, Context& c) {
    c.only_params({"outputs", "follow", "after"});
    auto job = require_job(s, c.params["jid"]);
    if (c.flag("follow")) {
        bool sse = c.request.get("Accept", "").find("text/event-stream") != std::string::npos;
        std::string after = c.query.get("after", c.request.get("Last-Event-ID", "0"));
        static const Poco::RegularExpression id_shape("^[0-9]+(-[0-9]+)?$");
        if (!id_shape.match(after)) throw ApiError(400, "event id must look like 1700000000000-0");
        follow(s, c, job, sse, after);
        return;
    }
    if (c.flag("outputs")) {
        auto returns = s.store.returns(job.jid);
        c.json(200, job.to_json(&returns));
    } else {
        c.json(200, job.to_json(nullptr));
    }
}

void delete_job(Services& s, Context& c) {
    c.only_params({});
    auto job = require_job(s, c.params["jid"]);
    if (!jobs::status::terminal(job.status)) {
        throw ApiError(409, "job " + job.jid + " is " + job.status +
                                "; cancel it first with POST /jobs/" + job.jid + "/cancel");
    }
    s.store.remove(job.jid);
    c.no_content();
}

void cancel_job(Services& s, Context& c) {
    c.only_params({});
    auto job = require_job(s, c.params["jid"]);
    if (jobs::status::terminal(job.status))
        throw ApiError(409, "job " + job.jid + " already ended (" + job.status + ")");
    s.store.request_cancel(job.jid);
    Poco::JSON::Object out;
    out.set("jid", job.jid);
    // A queued job ends here and now; a running one is stopped by its
    // worker within a moment (its processes get SIGTERM, then SIGKILL).
    if (job.status == jobs::status::queued &&
        s.store.finish(job.jid, jobs::Failure, jobs::status::cancelled, "cancelled", {},
                       job.targets, jobs::status::queued)) {
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
