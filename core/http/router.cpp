#include "http/router.hpp"

#include "http/api_error.hpp"

namespace exed::http {

std::vector<std::string> Router::split(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

void Router::add(const std::string& method, const std::string& pattern, Handler h) {
    routes_.push_back({method, pattern, split(pattern), std::move(h)});
}

bool Router::match(const Route& r, const std::vector<std::string>& segs,
                   std::map<std::string, std::string>& params) {
    if (r.segments.size() != segs.size()) return false;
    std::map<std::string, std::string> found;
    for (size_t i = 0; i < segs.size(); ++i) {
        const auto& s = r.segments[i];
        if (s.size() > 2 && s.front() == '{' && s.back() == '}') found[s.substr(1, s.size() - 2)] = segs[i];
        else if (s != segs[i]) return false;
    }
    params = std::move(found);
    return true;
}

std::vector<std::pair<std::string, std::string>> Router::routes() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& r : routes_) out.emplace_back(r.method, r.pattern);
    return out;
}

void Router::dispatch(Context& ctx, const std::string& method, const std::string& path) const {
    auto segs = split(path);
    std::string allow;
    for (const auto& r : routes_) {
        std::map<std::string, std::string> params;
        if (!match(r, segs, params)) continue;
        if (r.method == method || (method == "HEAD" && r.method == "GET")) {
            ctx.params = std::move(params);
            ctx.route = r.pattern;
            r.handler(ctx);
            return;
        }
        if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
    }
    if (!allow.empty()) {
        ctx.response.set("Allow", allow);
        throw ApiError(405, "method " + method + " not allowed on " + path + " (allowed: " + allow + ")");
    }
    throw ApiError(404, "no such endpoint: " + path);
}

}  // namespace exed::http
