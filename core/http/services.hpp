// What the route handlers work with (owned by the app).
#pragma once

#include "config.hpp"
#include "operate/job_service.hpp"
#include "operate/submitter.hpp"
#include "plugins/executor_client.hpp"
#include "plugins/registry.hpp"

#include <atomic>

namespace exed::http::security { class Security; }
namespace exed::nodes { class Registry; }

namespace exed::http {

class FollowHub;

struct Services {
    const Settings& settings;
    plugins::Registry& registry;
    operate::Submitter& submitter;
    operate::JobService& jobs;
    security::Security& security;
    FollowHub* follow_hub = nullptr;  // set by the Server: where follow streams go after their head
    // False while exed starts (its plugin host has not loaded the plugins):
    // every route but GET /health answers 503 "starting". nullptr: ready.
    const std::atomic<bool>* ready = nullptr;
    bool is_ready() const { return !ready || ready->load(); }
    // The agent node registry and the executor (for `connected`) behind
    // /nodes; nullptr: those routes answer 503.
    nodes::Registry* nodes = nullptr;
    plugins::ExecutorClient* executor = nullptr;
};

class Router;
void add_operate_routes(Router& r, Services& s);
void add_job_routes(Router& r, Services& s);
void add_info_routes(Router& r, Services& s);
void add_node_routes(Router& r, Services& s);

}  // namespace exed::http
