#include "http/error_map.hpp"

#include <Poco/JSON/Array.h>

namespace exed::http {

namespace {

int status_of(Errc code) {
    switch (code) {
        case Errc::invalid: return 400;
        case Errc::not_found: return 404;
        case Errc::conflict: return 409;
        case Errc::unavailable: return 503;  // the server adds Retry-After
        case Errc::timeout: return 504;
        case Errc::unsupported: return 501;
        case Errc::internal: return 500;
        case Errc::plugin_crashed: return 502;  // the upstream of this request, the plugin host, died
    }
    return 500;
}

}  // namespace

ApiError to_api_error(const DomainError& e) {
    Poco::JSON::Object::Ptr extra;
    auto details = [&]() -> Poco::JSON::Object& {
        if (!extra) extra = new Poco::JSON::Object;
        return *extra;
    };
    if (!e.hosts.empty()) {
        Poco::JSON::Array hosts;
        for (auto& h : e.hosts) hosts.add(h);
        details().set(e.code() == Errc::conflict ? "busy" : "unknown", hosts);
    }
    if (!e.jid.empty()) details().set("jid", e.jid);
    return ApiError(status_of(e.code()), e.what(), extra);
}

}  // namespace exed::http
