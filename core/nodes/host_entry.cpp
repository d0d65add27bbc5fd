#include "nodes/host_entry.hpp"

#include "json.hpp"
#include "nodes/fingerprint.hpp"

#include <exed/sdk.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <mutex>

namespace exed::nodes {

namespace {

std::mutex g_mutex;
Registry* g_registry = nullptr;
RefusalAudit g_audit;

Poco::Logger& logger() { return Poco::Logger::get("exed.nodes"); }

Poco::JSON::Object record_json(const NodeRecord& r) {
    Poco::JSON::Object o;
    o.set("name", r.name);
    o.set("state", r.state);
    o.set("fingerprint", r.fingerprint);
    o.set("first_seen", r.first_seen);
    o.set("last_seen", r.last_seen);
    return o;
}

int fail(std::string& out, int status, const std::string& message) {
    Poco::JSON::Object o;
    o.set("message", message);
    out = json_string(o);
    return status;
}

}  // namespace

void install(Registry* registry, RefusalAudit audit) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_registry = registry;
    g_audit = std::move(audit);
}

int serve_request(const std::string& request_json, std::string& out) {
    Registry* registry = nullptr;
    RefusalAudit audit;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        registry = g_registry;
        audit = g_audit;
    }
    if (!registry) return fail(out, EXED_ERR_UNSUPPORTED, "this exed has no node registry");
    Poco::JSON::Object::Ptr req;
    try {
        req = parse_json(request_json).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
    }
    if (!req) return fail(out, EXED_ERR_BAD_INPUT, "node_registry: the request is no JSON object");
    std::string op = req->optValue<std::string>("op", "");
    std::string node = req->optValue<std::string>("node", "");
    try {
        if (op == "version") {
            Poco::JSON::Object o;
            o.set("version", registry->version());
            out = json_string(o);
            return EXED_OK;
        }
        if (op == "list") {
            Poco::JSON::Array list;
            for (auto& r : registry->list()) list.add(record_json(r));
            Poco::JSON::Object o;
            o.set("nodes", list);
            out = json_string(o);
            return EXED_OK;
        }
        if (!valid_node_name(node)) return fail(out, EXED_ERR_BAD_INPUT, "node_registry: bad node name");
        if (op == "get") {
            auto r = registry->get(node);
            if (!r) return fail(out, EXED_ERR_NOT_FOUND, "no node " + node);
            out = json_string(record_json(*r));
            return EXED_OK;
        }
        if (op != "present") return fail(out, EXED_ERR_BAD_INPUT, "node_registry: unknown op");
        std::string fp;
        Verdict v = registry->present(node, req->optValue<std::string>("public_key", ""), fp);
        std::string remote = req->optValue<std::string>("remote", "");
        if (v == Verdict::mismatch || v == Verdict::rejected || v == Verdict::full) {
            logger().warning("refused agent '" + node + "' from " + remote + ": " +
                             (v == Verdict::mismatch ? "another key than the one recorded for the name ("
                                                     : v == Verdict::rejected ? "its key was rejected ("
                                                                              : "the node registry is full (") +
                             fp + ")");
            if (audit) audit(node, remote, fp, verdict_name(v));
        } else if (v == Verdict::pending) {
            logger().information("agent '" + node + "' from " + remote + " waits for acceptance (" + fp +
                                 "): exed node accept " + node);
        }
        Poco::JSON::Object o;
        o.set("state", std::string(verdict_name(v)));
        o.set("fingerprint", fp);
        out = json_string(o);
        return EXED_OK;
    } catch (const BadKey& e) {
        return fail(out, EXED_ERR_BAD_INPUT, e.what());
    } catch (const std::exception& e) {
        return fail(out, EXED_ERR, std::string("node registry: ") + e.what());
    }
}

}  // namespace exed::nodes
