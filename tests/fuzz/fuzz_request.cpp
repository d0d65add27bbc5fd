// Fuzz target: one request through the router, the request context (body
// limit, JSON, flags, unknown parameters) and the operations' validation,
// as the daemon runs them, minus Redis: the handlers stop where a job
// would be submitted. Shovey's POST /shovey/jobs runs its real body check
// (shovey::parse_create). Input: "METHOD URI\n" then the body.
// Oracle: every failure is an ApiError (or a DomainError, mapped the way
// the server maps it) with a 4xx status and a message
// (or Poco's URI SyntaxException, which the server answers 400); anything
// else (500, crash, UB, hang) is a finding. A request that is answered
// must have had only valid UTF-8 text (path, query, body), and its answer
// must be valid UTF-8 too (issue 23).
#include "catalogue.hpp"
#include "errors.hpp"
#include "http/api_error.hpp"
#include "http/context.hpp"
#include "http/error_map.hpp"
#include "http/event_format.hpp"
#include "http/router.hpp"
#include "operate/numbers.hpp"
#include "operate/validate.hpp"
#include "http/request_text.hpp"
#include "shovey/service.hpp"
#include "utf8.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/URI.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

namespace {

class FakeResponse : public Poco::Net::HTTPServerResponse {
public:
    void sendContinue() override {}
    std::ostream& send() override {
        sent_ = true;
        return out;
    }
    void sendFile(const std::string&, const std::string&) override {}
    void sendBuffer(const void*, std::size_t) override {}
    void redirect(const std::string&, HTTPStatus) override {}
    void requireAuthentication(const std::string&) override {}
    bool sent() const override { return sent_; }
    std::ostringstream out;

private:
    bool sent_ = false;
};

class FakeRequest : public Poco::Net::HTTPServerRequest {
public:
    FakeRequest(const std::string& body, FakeResponse& r) : body_(body), response_(r) {}
    std::istream& stream() override { return body_; }
    const Poco::Net::SocketAddress& clientAddress() const override { return address_; }
    const Poco::Net::SocketAddress& serverAddress() const override { return address_; }
    const Poco::Net::HTTPServerParams& serverParams() const override { return *params_; }
    Poco::Net::HTTPServerResponse& response() const override { return response_; }
    bool secure() const override { return false; }

private:
    std::istringstream body_;
    FakeResponse& response_;
    Poco::Net::SocketAddress address_{"127.0.0.1", 1};
    Poco::Net::HTTPServerParams::Ptr params_ = new Poco::Net::HTTPServerParams;
};

// The daemon's route table (core/http/*_routes.cpp), each handler doing
// what the real one does up to the job store.
const exed::http::Router& router() {
    using exed::http::Context;
    static const exed::http::Router r = [] {
        exed::http::Router r;
        for (const auto& o : exed::catalogue::operations()) {
            std::string op = o.name;
            r.add("POST", "/" + op, [op](Context& c) {
                c.only_params({});
                std::vector<std::string> targets;
                int run_timeout = 0;
                auto args = exed::operate::args_from_body(op, c.body_object(), targets, run_timeout);
                c.json(201, args);
            });
            if (o.sync_allowed)
                r.add("GET", "/" + op, [op](Context& c) {
                    std::vector<std::string> targets;
                    exed::operate::Query query(c.query.begin(), c.query.end());
                    c.json(200, exed::operate::args_from_query(op, query, targets));
                });
        }
        for (const char* path : {"/target", "/targets"})
            r.add("GET", path, [](Context& c) { c.only_params({"pattern"}); c.no_content(); });
        r.add("GET", "/jobs", [](Context& c) { c.only_params({"detail", "limit", "cursor"}); c.flag("detail"); c.no_content(); });
        r.add("GET", "/jobs/{jid}", [](Context& c) {
            c.only_params({"outputs", "follow", "after"});
            if (c.flag("follow") && !exed::http::valid_stream_id(c.query.get("after", "0")))
                throw exed::ApiError(400, "event id must look like 1700000000000-0");
            c.flag("outputs");
            c.no_content();
        });
        r.add("DELETE", "/jobs/{jid}", [](Context& c) { c.only_params({}); c.no_content(); });
        r.add("POST", "/jobs/{jid}/cancel", [](Context& c) { c.only_params({}); c.no_content(); });
        r.add("GET", "/health", [](Context& c) { c.no_content(); });
        // Shovey (core/shovey/routes.cpp): the body check, and the
        // integers of its query strings.
        r.add("POST", "/shovey/jobs", [](Context& c) {
            c.only_params({});
            static const exed::shovey::Config config = [] {
                exed::shovey::Config cfg;
                cfg.commands["hello"] = {"echo", "hello"};
                return cfg;
            }();
            auto request = exed::shovey::parse_create(config, c.body_object());
            c.json(201, request.command);
        });
        r.add("GET", "/shovey/jobs", [](Context& c) {
            c.only_params({"limit", "cursor"});
            if (c.query.has("limit"))
                exed::operate::require_text_integer(c.query.get("limit"), 1, 10000, "limit must be an integer");
            c.no_content();
        });
        r.add("GET", "/shovey/stream/{id}/{node}", [](Context& c) {
            c.only_params({"sequence", "output_type"});
            if (c.query.has("sequence"))
                exed::operate::require_text_integer(c.query.get("sequence"), 0, int64_t(1) << 40,
                                                    "sequence must be an integer");
            c.no_content();
        });
        return r;
    }();
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    size_t nl = in.find('\n');
    std::string line = in.substr(0, nl);
    std::string body = nl == std::string::npos ? "" : in.substr(nl + 1);
    size_t sp = line.find(' ');
    std::string method = line.substr(0, sp), uri = sp == std::string::npos ? "/" : line.substr(sp + 1);

    FakeResponse resp;
    FakeRequest req(body, resp);
    exed::http::Context ctx{req, resp, 4096, {}, {}};
    try {
        Poco::URI parsed(uri);
        for (auto& [k, v] : parsed.getQueryParameters()) ctx.query.set(k, v);
        std::string path = parsed.getPath();
        exed::http::refuse_invalid_utf8(req, path, ctx.query);  // as the server does first
        router().dispatch(ctx, method, path);
        // Answered: nothing that is not UTF-8 got this far, or out.
        bool text_ok = exed::valid_utf8(path) && exed::valid_utf8(resp.out.str());
        for (const auto& [k, v] : ctx.query) text_ok = text_ok && exed::valid_utf8(k) && exed::valid_utf8(v);
        if (resp.getStatus() == 201) text_ok = text_ok && exed::valid_utf8(body);  // the handler read it
        if (!text_ok) __builtin_trap();
    } catch (const exed::ApiError& e) {
        if (e.status() < 400 || e.status() > 499 || std::string(e.what()).empty()) __builtin_trap();
    } catch (const exed::DomainError& d) {
        auto e = exed::http::to_api_error(d);
        if (e.status() < 400 || e.status() > 499 || std::string(e.what()).empty()) __builtin_trap();
    } catch (const Poco::SyntaxException&) {  // the server's 400 "malformed request URI"
    }
    return 0;
}
