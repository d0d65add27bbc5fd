#include "plugins/executor_nodes.hpp"

#include "catalogue.hpp"
#include "json.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <stdexcept>

namespace exed::plugins {

namespace {

// A call outside any job: nothing to emit, never cancelled.
struct NoJobHooks : CallHooks {
    void emit(const std::string&) override {}
};

}  // namespace

std::optional<std::vector<NodeState>> executor_nodes(ExecutorClient& client) {
    PluginRef exec = client.executor();
    if (!client.implements(exec, catalogue::nodes_op)) return std::nullopt;
    NoJobHooks hooks;
    OpResult r = client.run(exec, catalogue::nodes_op, "{}", hooks);
    if (!r.ok()) throw std::runtime_error("executor " + exec.type + ": nodes failed: " + r.error);
    std::vector<NodeState> out;
    try {
        auto list = parse_json(r.result).extract<Poco::JSON::Object::Ptr>()->getArray("nodes");
        if (!list) throw std::runtime_error("no \"nodes\" array");
        for (size_t i = 0; i < list->size(); ++i) {
            auto o = list->getObject(i);
            if (!o || !o->has("name") || !o->get("name").isString()) continue;
            NodeState n;
            n.name = o->getValue<std::string>("name");
            n.up = o->optValue<std::string>("status", "down") == "up";
            n.last_seen = o->optValue<Poco::Int64>("last_seen", 0);
            out.push_back(std::move(n));
        }
    } catch (const std::exception& e) {
        throw std::runtime_error("executor " + exec.type + ": malformed nodes answer: " + e.what());
    }
    return out;
}

}  // namespace exed::plugins
