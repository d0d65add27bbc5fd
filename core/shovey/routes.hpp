// The Shovey face's HTTP routes (/shovey/..., /status/...): requests in,
// Service calls, JSON out; with the agent-facing PUTs an agent reports its
// runs through (PUT /shovey/jobs/<id>/<node>, PUT /shovey/stream/<id>/<node>).
#pragma once

#include "http/router.hpp"
#include "shovey/service.hpp"

#include <functional>
#include <string>
#include <vector>

namespace exed::shovey {

// Who may do what on which nodes, decided by the app's security layer
// (http/security) so that a token limited to some hosts cannot reach the
// others through this face. Unset members allow everything.
struct Access {
    // Throws (403 naming the nodes) when the caller may not run commands on,
    // or cancel runs of, these nodes.
    std::function<void(http::Context&, const std::vector<std::string>& nodes)> require_change;
    // Whether the caller may see a job or status of these nodes (else 404).
    std::function<bool(const http::Context&, const std::vector<std::string>& nodes)> may_see;
    // Throws (403) unless the caller is an agent allowed to report for
    // `node` (the agent scope with the node in its patterns, or admin).
    std::function<void(http::Context&, const std::string& node)> require_report;
};

void add_routes(http::Router& router, Service& service, const Access& access);

}  // namespace exed::shovey
