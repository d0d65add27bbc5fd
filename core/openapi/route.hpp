// GET /openapi.json: the OpenAPI 3 document of every route (docs/openapi.json).
#pragma once

#include <string>

namespace exed::http {
class Router;
}  // namespace exed::http

namespace exed::openapi {
const std::string& document();
void add_openapi_route(http::Router& r);
}  // namespace exed::openapi
