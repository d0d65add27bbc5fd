// /nodes: the agent node registry (core/nodes) for operators -- exed's
// salt-key over HTTP. Admin scope (authorise.cpp); the changes are audited
// like every non-GET route, with the node as the audit line's target.
#include "http/api_error.hpp"
#include "http/router.hpp"
#include "http/services.hpp"
#include "nodes/registry.hpp"
#include "plugins/executor_nodes.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/Logger.h>

#include <set>

namespace exed::http {

namespace {

nodes::Registry& registry_of(Services& s) {
    if (!s.nodes) throw ApiError(503, "this exed has no node registry");
    return *s.nodes;
}

// The name of /nodes/{name}/..., checked before Redis is asked.
std::string node_param(Context& c) {
    std::string name = c.params.count("name") ? c.params.at("name") : "";
    if (!nodes::valid_node_name(name))
        throw ApiError(400, "bad node name: 1-253 letters, digits, '.', '_' or '-', starting with a letter or digit");
    c.targets = {name};
    return name;
}

// Names the executor reports up (its `nodes` op: the agent executor's
// connection table). Empty when it cannot tell: `connected` is then false.
std::set<std::string> connected_nodes(Services& s) {
    std::set<std::string> up;
    if (!s.executor) return up;
    try {
        if (auto list = plugins::executor_nodes(*s.executor))
            for (auto& n : *list)
                if (n.up) up.insert(n.name);
    } catch (const std::exception& e) {
        Poco::Logger::get("exed.http").warning(std::string("GET /nodes: connected unknown: ") + e.what());
    }
    return up;
}

void change_state(Router& r, Services& s, const std::string& verb, const std::string& state) {
    r.add("POST", "/nodes/{name}/" + verb, [&s, state](Context& c) {
        c.only_params({});
        std::string name = node_param(c);
        if (!registry_of(s).set_state(name, state)) throw ApiError(404, "no node " + name);
        Poco::JSON::Object o;
        o.set("name", name);
        o.set("state", state);
        c.json(200, o);
    });
}

}  // namespace

void add_node_routes(Router& r, Services& s) {
    r.add("GET", "/nodes", [&s](Context& c) {
        c.only_params({});
        auto records = registry_of(s).list();
        auto up = connected_nodes(s);
        Poco::JSON::Array out;
        for (auto& rec : records) {
            Poco::JSON::Object o;
            o.set("name", rec.name);
            o.set("state", rec.state);
            o.set("connected", up.count(rec.name) != 0);
            o.set("fingerprint", rec.fingerprint);
            o.set("first_seen", rec.first_seen);
            o.set("last_seen", rec.last_seen);
            out.add(o);
        }
        c.json(200, out);
    });
    change_state(r, s, "accept", "accepted");
    change_state(r, s, "reject", "rejected");
    r.add("DELETE", "/nodes/{name}", [&s](Context& c) {
        c.only_params({});
        std::string name = node_param(c);
        if (!registry_of(s).remove(name)) throw ApiError(404, "no node " + name);
        Poco::JSON::Object o;
        o.set("name", name);
        o.set("deleted", true);
        c.json(200, o);
    });
}

}  // namespace exed::http
