// Method + path routing. Patterns are literal segments or {name}
// placeholders: "/jobs/{jid}/cancel".
#pragma once

#include "http/context.hpp"

#include <functional>
#include <string>
#include <vector>

namespace exed::http {

using Handler = std::function<void(Context&)>;

class Router {
public:
    void add(const std::string& method, const std::string& pattern, Handler h);
    // Runs the matching handler; throws ApiError 404 (no such path) or 405
    // (path exists, method does not; the Allow header is set).
    void dispatch(Context& ctx, const std::string& method, const std::string& path) const;
    // Every route as (method, pattern), in the order added (OpenAPI test).
    std::vector<std::pair<std::string, std::string>> routes() const;

private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;
        Handler handler;
    };
    static std::vector<std::string> split(const std::string& path);
    static bool match(const Route& r, const std::vector<std::string>& segs,
                      std::map<std::string, std::string>& params);
    std::vector<Route> routes_;
};

}  // namespace exed::http
