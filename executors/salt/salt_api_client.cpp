#include "salt_api_client.hpp"

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

namespace exed::salt {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;

namespace {

double now_seconds() { return double(Poco::Timestamp().epochMicroseconds()) / 1e6; }

// The start of a body for an error message: salt-api's errors are HTML pages.
std::string excerpt(const std::string& body) {
    std::string s = body.substr(0, 200);
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
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
                               const std::string& token) const {
    HttpAnswer answer;
    try {
        auto session = open_session(Poco::Timespan(cfg_.effective_request_timeout(), 0));
        HTTPRequest req(HTTPRequest::HTTP_POST, path(p), HTTPRequest::HTTP_1_1);
        req.setContentType("application/json");
        req.set("Accept", "application/json");
        if (!token.empty()) req.set("X-Auth-Token", token);
        req.setContentLength(std::streamsize(body.size()));
        session->sendRequest(req) << body;
        HTTPResponse resp;
        std::istream& in = session->receiveResponse(resp);
        Poco::StreamCopier::copyToString(in, answer.body);
        answer.status = resp.getStatus();
        answer.auth_header = resp.get("X-Auth-Token", "");
    } catch (const Poco::TimeoutException&) {
        throw Error(fmt::format("{} did not answer POST {} within {} s", where(), p,
                                cfg_.effective_request_timeout()));
    } catch (const Poco::Exception& e) {
        throw Error(fmt::format("{} is unreachable: {}", where(), e.displayText()));
    }
    return answer;
}

SaltToken SaltApiClient::login() {
    Object::Ptr creds = new Object;
    creds->set("username", cfg_.username);
    creds->set("password", cfg_.password);
    creds->set("eauth", cfg_.eauth);
    HttpAnswer a = post("/login", to_json(creds), "");
    if (a.status == 401)
        throw Error(fmt::format("{} refused the login of user '{}' with eauth '{}' (HTTP 401): "
                                "check [salt] username, password and eauth",
                                where(), cfg_.username, cfg_.eauth));
    if (a.status != 200)
        throw Error(fmt::format("{} answered POST /login with HTTP {}: {}", where(), a.status,
                                excerpt(a.body)));
    SaltToken t;
    try {
        auto ret = as_array(parse_json(a.body).extract<Object::Ptr>()->get("return"));
        auto first = ret && ret->size() ? as_object(ret->get(0)) : nullptr;
        if (!first) throw Error("no return");
        // The header is salt-api's session id, what it wants back in
        // X-Auth-Token; the body token is Salt's own (a fallback if no header).
        t.value = a.auth_header.empty() ? first->getValue<std::string>("token") : a.auth_header;
        double start = first->optValue<double>("start", now_seconds());
        t.expire = first->getValue<double>("expire");
        // Renew a little early so a request never races the expiry.
        t.expire -= std::min(30.0, (t.expire - start) / 10);
    } catch (const std::exception&) {
        throw Error(fmt::format("{} answered /login without a token: {}", where(),
                                excerpt(a.body)));
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

Var SaltApiClient::run(const Object::Ptr& lowstate) {
    Array chunks;
    chunks.add(lowstate);
    const std::string body = to_json(chunks);
    const std::string fun = lowstate->optValue<std::string>("fun", "?");
    for (int attempt = 0; attempt < 2; ++attempt) {
        SaltToken t = token();
        HttpAnswer a = post("/", body, t.value);
        if (a.status == 401) {
            forget_token(t.value);  // expired or revoked: log in again and retry once
            continue;
        }
        if (a.status != 200)
            throw Error(fmt::format("{} answered {} with HTTP {}: {}", where(), fun, a.status,
                                    excerpt(a.body)));
        try {
            auto ret = as_array(parse_json(a.body).extract<Object::Ptr>()->get("return"));
            if (ret && ret->size() == 1) return ret->get(0);
        } catch (const std::exception&) {
        }
        throw Error(fmt::format("{} answered {} with an unexpected body: {}", where(), fun,
                                excerpt(a.body)));
    }
    throw Error(fmt::format("{} refused a fresh token for {} (HTTP 401): check the eauth "
                            "permissions of user '{}'",
                            where(), fun, cfg_.username));
}

}  // namespace exed::salt
