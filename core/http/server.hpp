// The REST server: the Acceptor (connections) and its request workers,
// the FollowHub (follow streams), one Router, JSON errors, access log.
#pragma once

#include "http/router.hpp"
#include "http/services.hpp"

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>

#include <atomic>
#include <memory>

namespace exed::http {

class Acceptor;
class FollowHub;

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
    std::atomic<int> open_connections_{0};
    std::unique_ptr<Poco::Net::HTTPRequestHandlerFactory> factory_;
    std::unique_ptr<FollowHub> follow_hub_;
    std::unique_ptr<Acceptor> acceptor_;
};

}  // namespace exed::http
