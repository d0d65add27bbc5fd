#include "shovey/routes.hpp"

#include "errors.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/NumberParser.h>

namespace exed::shovey {

namespace {

using http::Context;

// "http://<Host>" of the request, for the uri/url fields.
std::string url_base(Context& c) {
    std::string host = c.request.getHost();
    if (host.empty() || host.find_first_of(" \"<>\\") != std::string::npos) host = "localhost";
    return "http://" + host;
}

int64_t int_param(Context& c, const std::string& name, int64_t def, int64_t min, int64_t max) {
    if (!c.query.has(name)) return def;
    Poco::Int64 n = 0;
    if (!Poco::NumberParser::tryParse64(c.query.get(name), n) || n < min || n > max)
        throw ApiError(400, name + " must be an integer from " + std::to_string(min) + " to " +
                                std::to_string(max));
    return n;
}

void list_jobs(Service& s, Context& c) {
    c.only_params({"limit", "cursor"});
    int limit = int(int_param(c, "limit", 1000, 1, 10000));
    std::string cursor = c.query.get("cursor", "");
    Poco::Int64 n = 0;
    if (!cursor.empty() && !Poco::NumberParser::tryParse64(cursor, n))
        throw ApiError(400, "cursor must be the X-Next-Cursor value of a previous page");
    auto page = s.list(limit, cursor);
    Poco::JSON::Array out;
    for (auto& id : page.ids) out.add(id);
    if (!page.next_cursor.empty()) {
        c.response.set("X-Next-Cursor", page.next_cursor);
        c.response.set("Link", "</shovey/jobs?limit=" + std::to_string(limit) + "&cursor=" +
                                   page.next_cursor + ">; rel=\"next\"");
    }
    c.json(200, out);
}

void create_job(Service& s, Context& c) {
    c.only_params({});
    std::string id = s.create(c.body_object());
    Poco::JSON::Object out;
    out.set("id", id);
    out.set("uri", url_base(c) + "/shovey/jobs/" + id);
    c.response.set("Location", "/shovey/jobs/" + id);
    c.json(201, out);
}

void stream(Service& s, Context& c) {
    c.only_params({"sequence", "output_type"});
    int64_t sequence = int_param(c, "sequence", 0, 0, int64_t(1) << 40);
    std::string type = c.query.get("output_type", "stdout");
    c.json(200, s.stream(c.params["id"], c.params["node"], sequence, type));
}

}  // namespace

void add_routes(http::Router& r, Service& s) {
    r.add("GET", "/shovey/jobs", [&s](Context& c) { list_jobs(s, c); });
    r.add("POST", "/shovey/jobs", [&s](Context& c) { create_job(s, c); });
    r.add("PUT", "/shovey/jobs/cancel", [&s](Context& c) {
        c.only_params({});
        c.json(200, s.cancel(c.body_object()));
    });
    r.add("GET", "/shovey/jobs/{id}", [&s](Context& c) {
        c.only_params({});
        c.json(200, s.job(c.params["id"]));
    });
    r.add("GET", "/shovey/jobs/{id}/{node}", [&s](Context& c) {
        c.only_params({});
        c.json(200, s.run(c.params["id"], c.params["node"]));
    });
    r.add("GET", "/shovey/stream/{id}/{node}", [&s](Context& c) { stream(s, c); });
    r.add("GET", "/status/all/nodes", [&s](Context& c) {
        c.only_params({});
        c.json(200, s.all_nodes(url_base(c)));
    });
    r.add("GET", "/status/node/{node}/all", [&s](Context& c) {
        c.only_params({});
        c.json(200, s.node_history(c.params["node"]));
    });
    r.add("GET", "/status/node/{node}/latest", [&s](Context& c) {
        c.only_params({});
        c.json(200, s.node_latest(c.params["node"]));
    });
}

}  // namespace exed::shovey
