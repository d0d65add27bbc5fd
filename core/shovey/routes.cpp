#include "shovey/routes.hpp"

#include "errors.hpp"
#include "http/api_error.hpp"
#include "operate/numbers.hpp"

#include <Poco/JSON/Array.h>

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
    return operate::require_text_integer(c.query.get(name), min, max, operate::range_message(name, min, max));
}

bool sees(const Access& a, const Context& c, const std::vector<std::string>& nodes) {
    return !a.may_see || a.may_see(c, nodes);
}

// 404 (as for a job that does not exist) when the caller may not see it.
void require_visible(Service& s, const Access& a, const Context& c, const std::string& id) {
    if (!sees(a, c, s.nodes_of(id))) throw DomainError(Errc::not_found, "no such shovey job: " + id.substr(0, 64));
}

// The node names a body asks for, as far as they are readable; the Service
// validates the body itself.
std::vector<std::string> asked_nodes(const Poco::JSON::Object::Ptr& body) {
    std::vector<std::string> nodes;
    auto arr = body->getArray("nodes");
    if (!arr) return nodes;
    for (size_t i = 0; i < arr->size() && i <= kMaxNodes; ++i)
        if (arr->get(i).isString()) nodes.push_back(arr->get(i).toString());
    return nodes;
}

void list_jobs(Service& s, const Access& a, Context& c) {
    c.only_params({"limit", "cursor"});
    int limit = int(int_param(c, "limit", 1000, 1, 10000));
    std::string cursor = c.query.get("cursor", "");
    int64_t n = 0;
    if (!cursor.empty() && !operate::text_integer(cursor, 0, INT64_MAX, n))
        throw ApiError(400, "cursor must be the X-Next-Cursor value of a previous page");
    auto page = s.list(limit, cursor);
    Poco::JSON::Array out;
    for (auto& id : page.ids) {
        if (!a.may_see || sees(a, c, s.nodes_of(id))) out.add(id);
    }
    if (!page.next_cursor.empty()) {
        c.response.set("X-Next-Cursor", page.next_cursor);
        c.response.set("Link", "</shovey/jobs?limit=" + std::to_string(limit) + "&cursor=" +
                                   page.next_cursor + ">; rel=\"next\"");
    }
    c.json(200, out);
}

void create_job(Service& s, const Access& a, Context& c) {
    c.only_params({});
    auto body = c.body_object();
    if (a.require_change) a.require_change(c, asked_nodes(body));
    std::string id = s.create(body);
    Poco::JSON::Object out;
    out.set("id", id);
    out.set("uri", url_base(c) + "/shovey/jobs/" + id);
    c.response.set("Location", "/shovey/jobs/" + id);
    c.json(201, out);
}

void cancel_job(Service& s, const Access& a, Context& c) {
    c.only_params({});
    auto body = c.body_object();
    if (a.require_change && body->has("run_id") && body->get("run_id").isString()) {
        auto nodes = asked_nodes(body);
        a.require_change(c, nodes.empty() ? s.nodes_of(body->getValue<std::string>("run_id")) : nodes);
    }
    c.json(200, s.cancel(body));
}

void stream(Service& s, const Access& a, Context& c) {
    c.only_params({"sequence", "output_type"});
    require_visible(s, a, c, c.params["id"]);
    int64_t sequence = int_param(c, "sequence", 0, 0, int64_t(1) << 40);
    std::string type = c.query.get("output_type", "stdout");
    c.json(200, s.stream(c.params["id"], c.params["node"], sequence, type));
}

// An agent's report: who it is comes first (403 before anything about the
// run is revealed), then the body, then the run.
void report(const Access& a, Context& c,
            const std::function<Poco::JSON::Object::Ptr(const Poco::JSON::Object::Ptr&)>& apply) {
    c.only_params({});
    if (a.require_report) a.require_report(c, c.params["node"]);
    c.json(200, apply(c.body_object()));
}

}  // namespace

void require_node_visible(const Access& a, const Context& c, const std::string& node) {
    if (!sees(a, c, {node})) throw DomainError(Errc::not_found, "no status for node " + node.substr(0, 64));
}

void add_routes(http::Router& r, Service& s, const Access& access) {
    const Access* a = &access;
    r.add("GET", "/shovey/jobs", [&s, a](Context& c) { list_jobs(s, *a, c); });
    r.add("POST", "/shovey/jobs", [&s, a](Context& c) { create_job(s, *a, c); });
    r.add("PUT", "/shovey/jobs/cancel", [&s, a](Context& c) { cancel_job(s, *a, c); });
    r.add("GET", "/shovey/jobs/{id}", [&s, a](Context& c) {
        c.only_params({});
        require_visible(s, *a, c, c.params["id"]);
        c.json(200, s.job(c.params["id"]));
    });
    r.add("GET", "/shovey/jobs/{id}/{node}", [&s, a](Context& c) {
        c.only_params({});
        require_visible(s, *a, c, c.params["id"]);
        c.json(200, s.run(c.params["id"], c.params["node"]));
    });
    r.add("PUT", "/shovey/jobs/{id}/{node}", [&s, a](Context& c) {
        report(*a, c, [&](const Poco::JSON::Object::Ptr& body) {
            return s.report_run(c.params["id"], c.params["node"], body);
        });
    });
    r.add("GET", "/shovey/stream/{id}/{node}", [&s, a](Context& c) { stream(s, *a, c); });
    r.add("PUT", "/shovey/stream/{id}/{node}", [&s, a](Context& c) {
        report(*a, c, [&](const Poco::JSON::Object::Ptr& body) {
            return s.report_output(c.params["id"], c.params["node"], body);
        });
    });
    r.add("GET", "/status/all/nodes", [&s, a](Context& c) {
        c.only_params({});
        c.json(200, s.all_nodes(url_base(c), [&](const std::string& node) { return sees(*a, c, {node}); }));
    });
    r.add("GET", "/status/node/{node}/all", [&s, a](Context& c) {
        c.only_params({});
        require_node_visible(*a, c, c.params["node"]);
        c.json(200, s.node_history(c.params["node"]));
    });
    r.add("GET", "/status/node/{node}/latest", [&s, a](Context& c) {
        c.only_params({});
        require_node_visible(*a, c, c.params["node"]);
        c.json(200, s.node_latest(c.params["node"]));
    });
}

}  // namespace exed::shovey
