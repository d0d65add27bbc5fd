#include "shovey/face.hpp"

#include <algorithm>

#include "metrics/metrics.hpp"
#include "shovey/routes.hpp"

namespace exed::shovey {

Face::Face(Config config, const Settings& settings, redis::Pool& pool, operate::Submitter& submitter,
           operate::JobService& jobs, plugins::ExecutorClient& client, http::Router& router,
           const std::string& name, Access access)
    : config_(std::move(config)),
      access_(std::move(access)),
      store_(pool, node_status::open_list),
      adapter_(submitter, jobs, client),
      service_(config_, settings, store_, adapter_),
      checker_(config_, store_, adapter_, name) {
    add_routes(router, service_, access_);
    // Node checks ping the whole inventory: only once Shovey is put to use
    // (a command is configured), never as a side effect of upgrading exed.
    if (!config_.commands.empty()) {
        checker_.start();
        // Nodes per latest status: counts the store keeps as statuses
        // change, so a scrape is one HGETALL whatever the fleet's size.
        metrics_id_ = metrics::global().add_collector([this] {
            auto counts = store_.node_counts();
            std::string out = metrics::family("exed_shovey_nodes", "gauge",
                                              "Shovey nodes by latest status (/status/all/nodes).");
            for (const char* status : {"up", "down"})
                out += metrics::sample("exed_shovey_nodes", {{"status", status}},
                                       std::to_string(std::max<int64_t>(0, counts[status])));
            return out;
        });
    }
}

Face::~Face() {
    if (metrics_id_) metrics::global().remove_collector(metrics_id_);
    checker_.stop();
}

}  // namespace exed::shovey
