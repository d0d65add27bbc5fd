#include "plugins/run_executor.hpp"

#include "catalogue.hpp"
#include "json.hpp"

#include <Poco/JSON/Object.h>

namespace exed::plugins {

int run_executor_request(ExecutorClient& client, const std::string& request_json,
                         std::string& out, CallHooks& hooks) {
    auto message = [&](const std::string& m) {
        Poco::JSON::Object o;
        o.set("message", m);
        out = json_string(o);
    };
    auto exec = client.executor();
    if (!client.available(exec)) {
        message("executor plugin '" + exec.type + "' is not loaded");
        return EXED_ERR;
    }
    std::string op, args;
    try {
        auto req = parse_json(request_json).extract<Poco::JSON::Object::Ptr>();
        op = req->getValue<std::string>("op");
        args = req->has("args") ? json_string(req->get("args")) : "{}";
    } catch (const Poco::Exception& e) {
        message("bad run_executor request: " + e.displayText());
        return EXED_ERR_BAD_INPUT;
    }
    if (op == catalogue::expand_op) {
        message(std::string("run_executor cannot run '") + catalogue::expand_op + "'");
        return EXED_ERR_BAD_INPUT;
    }
    auto r = client.run(exec, op, args, hooks);
    if (r.ok()) {
        out = r.result.empty() ? "{}" : r.result;
    } else {
        message(r.error);
    }
    return r.status;
}

}  // namespace exed::plugins
