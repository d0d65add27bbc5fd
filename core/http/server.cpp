#include "http/server.hpp"

#include "http/acceptor.hpp"
#include "http/error_map.hpp"
#include "http/follow_hub.hpp"
#include "http/request_runner.hpp"
#include "http/request_text.hpp"
#include "http/security/security.hpp"
#include "http/security/tls.hpp"
#include "metrics/metrics.hpp"
#include "metrics/route.hpp"
#include "openapi/route.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <fmt/format.h>

#include <chrono>

namespace exed::http {

namespace {

Poco::Logger& access_log() { return Poco::Logger::get("exed.access"); }
Poco::Logger& error_log() { return Poco::Logger::get("exed.http"); }

class Handler : public Poco::Net::HTTPRequestHandler {
public:
    Handler(const Router& router, Services& s) : router_(router), s_(s) {}

    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& resp) override {
        auto t0 = std::chrono::steady_clock::now();
        Context ctx{req, resp, s_.settings.max_body, {}, {}, -1, nullptr, {}};
        std::string path;
        // Until the plugins are loaded nothing is served but /health (what
        // they mark secret is not known yet either: such requests are
        // neither audited nor logged with their query).
        bool starting = !s_.is_ready();
        try {
            Poco::URI uri(req.getURI());
            for (auto& [k, v] : uri.getQueryParameters()) ctx.query.set(k, v);
            path = uri.getPath();
            refuse_invalid_utf8(req, path, ctx.query);  // before anything reads them
            starting = starting && !(path == "/health" && req.getMethod() == "GET");
            if (starting) throw ApiError(503, "exed is starting: its plugins are being loaded; retry shortly");
            s_.security.admit(ctx, path);
            router_.dispatch(ctx, req.getMethod(), path);
        } catch (const ApiError& e) {
            fail(ctx, e.status(), e.what(), e.extra());
        } catch (const DomainError& e) {
            auto answer = to_api_error(e);
            fail(ctx, answer.status(), answer.what(), answer.extra());
        } catch (const Poco::SyntaxException& e) {
            fail(ctx, 400, "malformed request URI: " + e.message(), nullptr);
        } catch (const Poco::Net::ConnectionResetException&) {
            // The client went away mid-stream: nothing to answer.
        } catch (const std::exception& e) {
            error_log().error(fmt::format("{} {}: {}", req.getMethod(), s_.security.redactor().uri(req.getURI()), e.what()));
            fail(ctx, 500, std::string("internal error: ") + e.what(), nullptr);
        }
        log_access(req, resp, ctx, t0, starting);
        try {
            if (!starting) s_.security.record(ctx, path);
        } catch (const std::exception& e) {
            error_log().error(std::string("audit: ") + e.what());
        }
        metrics::global().http_request(ctx.route.empty() ? "unmatched" : ctx.route, int(resp.getStatus()),
                                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }

private:
    void fail(Context& ctx, int status, const std::string& message, Poco::JSON::Object::Ptr extra) {
        if (ctx.sent()) {  // a stream had started: all we can do is log
            error_log().warning(fmt::format("{} after the response started: {}", status, message));
            return;
        }
        Poco::JSON::Object::Ptr body = extra ? extra : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
        body->set("message", message);
        if (status == 401) ctx.response.set("WWW-Authenticate", "Bearer");
        if (status == 503) ctx.response.set("Retry-After", "1");
        if (status == 421) ctx.response.setKeepAlive(false);
        ctx.json(status, body);
    }

    void log_access(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                    const Context& ctx, std::chrono::steady_clock::time_point t0, bool starting) {
        std::string uri = req.getURI();
        uri = starting ? uri.substr(0, uri.find('?')) : s_.security.redactor().uri(uri);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        // Common log format, plus the duration in ms.
        access_log().information(fmt::format(
            "{} - - [{}] \"{} {} {}\" {} {} {:.1f}", req.clientAddress().host().toString(),
            Poco::DateTimeFormatter::format(Poco::Timestamp(), "%d/%b/%Y:%H:%M:%S +0000"),
            req.getMethod(), uri, req.getVersion(), int(resp.getStatus()),
            ctx.bytes_sent < 0 ? std::string("-") : std::to_string(ctx.bytes_sent), ms));
    }

    const Router& router_;
    Services& s_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    Factory(const Router& router, Services& s) : router_(router), s_(s) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new Handler(router_, s_);
    }

private:
    const Router& router_;
    Services& s_;
};

}  // namespace

Server::Server(Services& services) : services_(services) {
    add_operate_routes(router_, services_);
    add_job_routes(router_, services_);
    add_info_routes(router_, services_);
    add_node_routes(router_, services_);
    services_.security.add_routes(router_);
    metrics::add_metrics_route(router_, services_);
    openapi::add_openapi_route(router_);
}

Server::~Server() { stop(); }

void Server::start() {
    const auto& st = services_.settings;
    Poco::Net::SocketAddress addr(st.listen, Poco::UInt16(st.listen_port));
    auto socket = security::listen_socket(services_.security.settings(), addr, 256);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);  // unlimited
    // A worker reads the request from memory (the Acceptor received it
    // whole); this bounds nothing the client can stretch any more.
    params->setTimeout(Poco::Timespan(st.header_timeout, 0));
    factory_ = std::make_unique<Factory>(router_, services_);
    follow_hub_ = std::make_unique<FollowHub>(services_.jobs, open_connections_);
    services_.follow_hub = follow_hub_.get();
    ConnectionLimits limits;
    limits.max_connections = st.max_connections;
    limits.header_timeout = st.header_timeout;
    limits.keepalive_timeout = st.keepalive_timeout;
    limits.threads = st.http_threads;
    limits.request_timeout = st.request_timeout;
    limits.handshake_timeout = st.handshake_timeout;
    limits.max_body = st.max_body;
    acceptor_ = std::make_unique<Acceptor>(
        socket, limits,
        [this, params](Poco::Net::StreamSocket& s, std::string request) {
            return serve_request(s, std::move(request), params, *factory_);
        },
        open_connections_);
    follow_hub_->start();
    acceptor_->start();
}

void Server::stop() {
    if (acceptor_) acceptor_->stop();
    if (follow_hub_) follow_hub_->stop();
    services_.follow_hub = nullptr;
    acceptor_.reset();
    follow_hub_.reset();
}

Poco::UInt16 Server::port() const { return acceptor_ ? acceptor_->port() : 0; }

}  // namespace exed::http
