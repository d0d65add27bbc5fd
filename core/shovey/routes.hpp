// The Shovey face's HTTP routes (/shovey/..., /status/...): requests in,
// Service calls, JSON out. The agent-facing PUTs are the agent's.
#pragma once

#include "http/router.hpp"
#include "shovey/service.hpp"

namespace exed::shovey {

void add_routes(http::Router& router, Service& service);

}  // namespace exed::shovey
