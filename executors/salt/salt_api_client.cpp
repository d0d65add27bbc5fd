#include "salt_api_client.hpp"

#include "salt_messages.hpp"

#include <exed/sdk.hpp>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timestamp.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace exed::salt {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;

namespace {

double now_seconds() { return double(Poco::Timestamp().epochMicroseconds()) / 1e6; }

// Waits until salt-api starts answering on `session`, asking `stop` every
// 100 ms: the master may hold a request (find_job) for many seconds.
void await_answer(Poco::Net::HTTPClientSession& session, const StopAsked& stop, int limit_s) {
    if (!stop) return;  // receiveResponse's own timeout bounds the wait
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(limit_s);
    const Poco::Timespan step(0, 100000);
    while (!session.socket().poll(step, Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR)) {
        if (stop()) throw Interrupted();
        if (std::chrono::steady_clock::now() >= until) throw Poco::TimeoutException();
    }
}

}  // namespace

SaltApiClient::SaltApiClient(const SaltConfig& cfg) : cfg_(cfg), uri_(cfg.api_url) {
    if (uri_.getScheme() == "https") {
        Poco::Net::initializeSSL();
        using Poco::Net::Context;
        tls_ = new Context(Context::TLS_CLIENT_USE, "", "", "",
                           cfg_.verify_tls ? Context::VERIFY_RELAXED : Context::VERIFY_NONE, 9,
                           true /* load the system's CA certificates */);
    }
}

SaltApiClient::~SaltApiClient() {
    if (tls_) {
        tls_ = nullptr;
        Poco::Net::uninitializeSSL();
    }
}

std::string SaltApiClient::where() const { return "salt-api at " + cfg_.api_url; }

std::string SaltApiClient::path(const std::string& p) const {
    std::string base = uri_.getPath();
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + p;
}

std::unique_ptr<Poco::Net::HTTPClientSession> SaltApiClient::open_session(
    Poco::Timespan receive_timeout) const {
    std::unique_ptr<Poco::Net::HTTPClientSession> s;
    if (tls_)
        s = std::make_unique<Poco::Net::HTTPSClientSession>(uri_.getHost(), uri_.getPort(), tls_);
    else
        s = std::make_unique<Poco::Net::HTTPClientSession>(uri_.getHost(), uri_.getPort());
    Poco::Timespan connect(cfg_.connect_timeout, 0);
    s->setTimeout(connect, Poco::Timespan(cfg_.effective_request_timeout(), 0), receive_timeout);
    s->setKeepAlive(false);
    return s;
}

HttpAnswer SaltApiClient::post(const std::string& p, const std::string& body,
                               const std::string& token, const StopAsked& stop) const {
    HttpAnswer answer;
    try {
        auto session = open_session(Poco::Timespan(cfg_.effective_request_timeout(), 0));
        HTTPRequest req(HTTPRequest::HTTP_POST, path(p), HTTPRequest::HTTP_1_1);
        req.setContentType("application/json");
        req.set("Accept", "application/json");
        if (!token.empty()) req.set("X-Auth-Token", token);
        req.setContentLength(std::streamsize(body.size()));
        session->sendRequest(req) << body << std::flush;
        await_answer(*session, stop, cfg_.effective_request_timeout());
        HTTPResponse resp;
        std::istream& in = session->receiveResponse(resp);
        Poco::StreamCopier::copyToString(in, answer.body);
        answer.status = resp.getStatus();
        answer.auth_header = resp.get("X-Auth-Token", "");
    } catch (const Poco::TimeoutException&) {
        throw ApiUnreachable(fmt::format("{} did not answer POST {} within {} s", where(), p,
                                         cfg_.effective_request_timeout()));
    } catch (const Poco::Exception& e) {
        throw ApiUnreachable(fmt::format("{} is unreachable: {}", where(), e.displayText()));
    }
    return answer;
}

SaltToken SaltApiClient::login() {
    Object::Ptr creds = new Object;
    creds->set("username", cfg_.username);
    creds->set("password", cfg_.password);
    creds->set("eauth", cfg_.eauth);
    HttpAnswer a = post("/login", to_json(creds), "", {});
    if (a.status == 401)
        throw Error(fmt::format("{} refused the login of user '{}' with eauth '{}' (HTTP 401): "
                                "check [salt] username, password and eauth",
                                where(), cfg_.username, cfg_.eauth));
    if (a.status != 200)
        throw Error(fmt::format("{} answered POST /login with HTTP {}: {}", where(), a.status,
                                error_body_reason(a.body)));
    SaltToken t;
    try {
        auto ret = as_array(parse_json(a.body).extract<Object::Ptr>()->get("return"));
        auto first = ret && ret->size() ? as_object(ret->get(0)) : nullptr;
        if (!first) throw Error("no return");
        // Salt 3006.7 sends the same value in the X-Auth-Token header and
        // the body's "token"; the header is what salt-api wants back.
        t.value = a.auth_header.empty() ? first->getValue<std::string>("token") : a.auth_header;
        double start = first->optValue<double>("start", now_seconds());
        t.expire = first->getValue<double>("expire");
        // Renew a little early so a request never races the expiry.
        t.expire -= std::min(30.0, (t.expire - start) / 10);
    } catch (const std::exception&) {
        throw Error(fmt::format("{} answered /login without a token: {}", where(),
                                error_body_reason(a.body)));
    }
    return t;
}

SaltToken SaltApiClient::token() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (token_.value.empty() || now_seconds() >= token_.expire) token_ = login();
    return token_;
}

void SaltApiClient::forget_token(const std::string& stale) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (token_.value == stale) token_ = SaltToken{};
}

Var SaltApiClient::run(const Object::Ptr& lowstate, const StopAsked& stop) {
    Array chunks;
    chunks.add(lowstate);
    const std::string body = to_json(chunks);
    const std::string fun = lowstate->optValue<std::string>("fun", "?");
    for (int attempt = 0; attempt < 2; ++attempt) {
        SaltToken t = token();
        HttpAnswer a = post("/", body, t.value, stop);
        if (a.status == 401) {
            // Expired or forgotten (salt-api restarted, or its session, 10 h,
            // ended before the token, 12 h): log in again and retry once.
            forget_token(t.value);
            continue;
        }
        if (a.status == 502 || a.status == 503 || a.status == 504)  // a proxy without salt-api
            throw ApiUnreachable(fmt::format("{} answered {} with HTTP {}: {}", where(), fun,
                                             a.status, error_body_reason(a.body)));
        if (a.status != 200)
            throw Error(fmt::format("{} answered {} with HTTP {}: {}", where(), fun, a.status,
                                    error_body_reason(a.body)));
        try {
            auto ret = as_array(parse_json(a.body).extract<Object::Ptr>()->get("return"));
            if (ret && ret->size() == 1) return ret->get(0);
        } catch (const std::exception&) {
        }
        throw Error(fmt::format("{} answered {} with an unexpected body: {}", where(), fun,
                                error_body_reason(a.body)));
    }
    throw Error(fmt::format("{} refused a fresh token for {} (HTTP 401): check the eauth "
                            "permissions of user '{}'",
                            where(), fun, cfg_.username));
}

void SaltApiClient::probe(int seconds) const {
    try {
        auto session = open_session(Poco::Timespan(seconds, 0));
        Poco::Timespan limit(std::min(seconds, cfg_.connect_timeout), 0);
        session->setTimeout(limit, limit, limit);
        HTTPRequest req(HTTPRequest::HTTP_GET, path("/"), HTTPRequest::HTTP_1_1);
        req.set("Accept", "application/json");
        session->sendRequest(req);
        HTTPResponse resp;
        std::string body;
        Poco::StreamCopier::copyToString(session->receiveResponse(resp), body);
        if (resp.getStatus() != 200)
            throw Error(fmt::format("{} answered GET / with HTTP {}: {}", where(),
                                    int(resp.getStatus()), error_body_reason(body)));
    } catch (const Poco::Exception& e) {
        throw ApiUnreachable(fmt::format("{} is unreachable: {}", where(), e.displayText()));
    }
}

}  // namespace exed::salt
