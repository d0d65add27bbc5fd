// GET /release (loaded releasers), GET /plugins, GET /health.
#include "http/router.hpp"
#include "http/services.hpp"

#include <Poco/JSON/Array.h>

namespace exed::http {

void add_info_routes(Router& r, Services& s) {
    r.add("GET", "/release", [&s](Context& c) {
        c.only_params({});
        Poco::JSON::Array out;
        for (auto& info : s.registry.list("releaser")) {
            Poco::JSON::Object o;
            o.set("type", info.type);
            o.set("name", info.name);
            out.add(o);
        }
        c.json(200, out);
    });
    r.add("GET", "/plugins", [&s](Context& c) {
        c.only_params({});
        Poco::JSON::Array out;
        for (auto& info : s.registry.list()) {
            Poco::JSON::Object o;
            o.set("kind", info.kind);
            o.set("type", info.type);
            o.set("name", info.name);
            o.set("version", info.version);
            o.set("abi", std::to_string(info.abi_major) + "." + std::to_string(info.abi_minor));
            o.set("path", info.path);
            Poco::JSON::Array secrets;
            for (auto& a : info.secret_args) secrets.add(a);
            o.set("secret_args", secrets);
            o.set("active", info.kind == "executor" ? info.type == s.settings.executor : true);
            out.add(o);
        }
        c.json(200, out);
    });
    r.add("GET", "/health", [&s](Context& c) {
        // Readiness for load balancers and systemd (docs/ops.md): "starting"
        // until the plugin host has loaded the plugins, then "ready" while
        // Redis and the executor are usable, "unavailable" otherwise.
        if (!s.is_ready()) {
            Poco::JSON::Object o;
            o.set("status", "starting");
            o.set("executor", "starting");
            c.response.set("Retry-After", "1");
            c.json(503, o);
            return;
        }
        auto health = s.jobs.health();
        bool redis_ok = health.store_ok, exec_ok = health.executor_ok();
        Poco::JSON::Object o;
        o.set("redis", redis_ok ? "ok" : "unavailable");
        o.set("executor", exec_ok                  ? s.settings.executor
                          : health.executor_loaded ? "unavailable"
                                                   : "not loaded");
        if (!health.executor_error.empty()) o.set("executor_error", health.executor_error);
        o.set("status", redis_ok && exec_ok ? "ready" : "unavailable");
        if (!(redis_ok && exec_ok)) c.response.set("Retry-After", "1");
        c.json(redis_ok && exec_ok ? 200 : 503, o);
    });
}

}  // namespace exed::http
