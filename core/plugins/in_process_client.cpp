#include "plugins/in_process_client.hpp"

#include "catalogue.hpp"
#include "json.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <set>

namespace exed::plugins {

namespace {

// Hooks for calls made outside a job (target expansion): nothing to emit.
struct NoJobHooks : CallHooks {
    void emit(const std::string&) override {}
};

std::string not_loaded(const PluginRef& p) {
    return p.kind + " plugin '" + p.type + "' is not loaded";
}

}  // namespace

PluginRef InProcessClient::executor() const {
    return {catalogue::kind_name(catalogue::Kind::Executor), executor_type_};
}

bool InProcessClient::available(const PluginRef& plugin) const { return find(plugin) != nullptr; }

bool InProcessClient::implements(const PluginRef& plugin, const std::string& op) const {
    auto p = find(plugin);
    return p && p->has_op(op);
}

bool InProcessClient::expand(const std::vector<std::string>& patterns, Prepared& out) {
    auto exec = find(executor());
    if (!exec) {
        out.status = EXED_ERR;
        out.error = not_loaded(executor());
        return false;
    }
    std::set<std::string> seen;
    NoJobHooks hooks;
    for (const auto& pattern : patterns) {
        Poco::JSON::Object args;
        args.set("pattern", pattern);
        auto r = exec->invoke(catalogue::expand_op, json_string(args), hooks);
        if (!r.ok()) {
            out.status = r.status;
            out.error = r.error;
            return false;
        }
        Poco::JSON::Array::Ptr arr;
        try {
            arr = parse_json(r.result).extract<Poco::JSON::Array::Ptr>();
            if (arr->size() == 0) out.unmatched.push_back(pattern);
            for (size_t i = 0; i < arr->size(); ++i) {
                std::string h = arr->getElement<std::string>(i);
                if (seen.insert(h).second) out.hosts.push_back(h);
            }
        } catch (const Poco::Exception&) {
            out.status = EXED_ERR;
            out.error = "executor returned malformed targets for '" + pattern + "'";
            return false;
        }
    }
    return true;
}

Prepared InProcessClient::prepare(const PrepareRequest& request) {
    Prepared out;
    PluginPtr plugin;
    if (!request.op.empty()) {
        plugin = find(request.plugin);
        if (!plugin) {
            out.status = EXED_ERR;
            out.error = not_loaded(request.plugin);
            return out;
        }
        if (!plugin->has_op(request.op)) {
            out.status = EXED_ERR_UNSUPPORTED;
            out.error = request.plugin.kind + " '" + request.plugin.type +
                        "' does not implement operation '" + request.op + "'";
            return out;
        }
    }
    if (!expand(request.patterns, out) || request.op.empty() || !out.unmatched.empty()) return out;

    Poco::JSON::Object::Ptr doc;
    try {
        doc = parse_json(request.args_json.empty() ? "{}" : request.args_json)
                  .extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
        out.status = EXED_ERR_BAD_INPUT;
        out.error = "the arguments must be a JSON object";
        return out;
    }
    Poco::JSON::Array::Ptr targets = new Poco::JSON::Array;  // shared, not copied into the document
    for (auto& h : out.hosts) targets->add(h);
    doc->set("targets", targets);
    out.document = json_string(doc);
    auto c = plugin->check(request.op, out.document);
    if (!c.ok()) {
        out.status = c.status;
        out.error = c.error;
    }
    return out;
}

OpResult InProcessClient::health() {
    auto exec = find(executor());
    if (!exec) {
        OpResult r;
        r.status = EXED_ERR;
        r.error = not_loaded(executor());
        return r;
    }
    return exec->check("health", "{}");
}

OpResult InProcessClient::run(const PluginRef& plugin, const std::string& op,
                              const std::string& document, CallHooks& hooks) {
    auto p = find(plugin);
    if (!p) {
        OpResult r;
        r.status = EXED_ERR;
        r.error = not_loaded(plugin);
        return r;
    }
    return p->invoke(op, document, hooks);
}

}  // namespace exed::plugins
