// GET /metrics (Prometheus text format).
#pragma once

namespace exed::http {
class Router;
struct Services;
}  // namespace exed::http

namespace exed::metrics {
void add_metrics_route(http::Router& r, http::Services& s);
}  // namespace exed::metrics
