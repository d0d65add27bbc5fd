// The REST server: Poco's HTTPServer, one Router, JSON errors, access log.
#pragma once

#include "http/router.hpp"
#include "http/services.hpp"

#include <Poco/Net/HTTPServer.h>

#include <memory>

namespace exed::http {

class Server {
public:
    explicit Server(Services& services);
    ~Server();
    // Binds [api] listen:listen_port; throws Poco::Exception when it cannot.
    void start();
    void stop();
    Poco::UInt16 port() const;
    Router& router() { return router_; }  // faces wired by the app (Shovey); the OpenAPI test

private:
    Services& services_;
    Router router_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace exed::http
