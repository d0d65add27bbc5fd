#include "openapi/route.hpp"

#include "http/router.hpp"

namespace exed::openapi {

void add_openapi_route(http::Router& r) {
    r.add("GET", "/openapi.json", [](http::Context& c) {
        c.only_params({});
        const std::string& doc = document();
        c.response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
        c.response.setContentType("application/json");
        c.response.setContentLength64(Poco::Int64(doc.size()));
        c.response.send() << doc;
        c.bytes_sent = long(doc.size());
    });
}

}  // namespace exed::openapi
