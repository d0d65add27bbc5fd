// What the route handlers work with (owned by the app).
#pragma once

#include "config.hpp"
#include "operate/job_service.hpp"
#include "operate/submitter.hpp"
#include "plugins/registry.hpp"

namespace exed::http::security { class Security; }

namespace exed::http {

class FollowHub;

struct Services {
    const Settings& settings;
    plugins::Registry& registry;
    operate::Submitter& submitter;
    operate::JobService& jobs;
    security::Security& security;
    FollowHub* follow_hub = nullptr;  // set by the Server: where follow streams go after their head
};

class Router;
void add_operate_routes(Router& r, Services& s);
void add_job_routes(Router& r, Services& s);
void add_info_routes(Router& r, Services& s);

}  // namespace exed::http
