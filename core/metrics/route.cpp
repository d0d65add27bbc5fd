// GET /metrics: the in-process registry plus a few gauges read at scrape
// time (plugins from the registry in memory; Redis: one PING and one XLEN),
// and the collectors' families (Shovey node counts: one HGETALL; agents:
// one cached `nodes` call).
#include "http/router.hpp"
#include "http/services.hpp"
#include "metrics/metrics.hpp"
#include "metrics/route.hpp"

#include <map>

namespace exed::metrics {

void add_metrics_route(http::Router& r, http::Services& s) {
    r.add("GET", "/metrics", [&s](http::Context& c) {
        c.only_params({});
        std::string out = global().render();
        out += family("exed_plugins_loaded", "gauge", "Plugins loaded, by kind and type.");
        std::map<Labels, int> loaded;
        for (const auto& p : s.registry.list()) ++loaded[{{"kind", p.kind}, {"type", p.type}}];
        for (const auto& [labels, n] : loaded) out += sample("exed_plugins_loaded", labels, std::to_string(n));
        out += family("exed_plugin_load_errors_total", "counter", "Plugin files refused since start.");
        out += sample("exed_plugin_load_errors_total", {}, std::to_string(s.registry.refusals().size()));
        bool up = s.jobs.store_up();
        out += family("exed_redis_up", "gauge", "1 when Redis answered PING at this scrape.");
        out += sample("exed_redis_up", {}, up ? "1" : "0");
        if (up) {
            // XLEN: O(1). Counts entries not yet done (waiting or running).
            out += family("exed_queue_depth", "gauge", "Jobs in the queue stream not yet done (waiting or running).");
            try {
                out += sample("exed_queue_depth", {}, std::to_string(s.jobs.queue_depth()));
            } catch (const std::exception&) {
                // Redis went away between the two calls: no sample this time.
            }
        }
        out += global().collect();
        c.response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
        c.response.setContentType("text/plain; version=0.0.4; charset=utf-8");
        c.response.setContentLength64(Poco::Int64(out.size()));
        c.response.send() << out;
        c.bytes_sent = long(out.size());
    });
}

}  // namespace exed::metrics
