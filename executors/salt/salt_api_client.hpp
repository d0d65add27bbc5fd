// A client of salt-api (rest_cherrypy): eauth login with a cached token,
// lowstate requests to "/", and HTTP sessions for the /events stream.
// Thread-safe: operations of several jobs share one client and one token.
#pragma once

#include "salt_config.hpp"
#include "salt_json.hpp"

#include <exed/sdk.hpp>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace exed::salt {

// salt-api could not be reached or broke the connection: nothing was
// decided, the request may be tried again later (salt-api restarting).
struct ApiUnreachable : Error {
    explicit ApiUnreachable(const std::string& w) : Error(w) {}
};
// A request given up because the caller asked (cancel, run_timeout).
struct Interrupted : Error {
    Interrupted() : Error("interrupted") {}
};
// Asked every ~100 ms while a request waits for salt-api: true gives it up.
using StopAsked = std::function<bool()>;

// A login of ours: the X-Auth-Token salt-api gave and when it stops working.
struct SaltToken {
    std::string value;
    double expire = 0;  // epoch seconds, from the login answer
};

struct HttpAnswer {
    int status = 0;
    std::string body;
    std::string auth_header;  // X-Auth-Token, set by /login
};

class SaltApiClient {
public:
    explicit SaltApiClient(const SaltConfig& cfg);
    ~SaltApiClient();
    SaltApiClient(const SaltApiClient&) = delete;
    SaltApiClient& operator=(const SaltApiClient&) = delete;

    // POSTs one lowstate chunk to "/" and returns its element of "return".
    // Logs in when there is no valid token and once more on a 401 (salt-api
    // forgets tokens on restart, before their announced expiry).
    // A request the master holds (find_job waits for minions) is given up
    // with Interrupted as soon as `stop` says so.
    Var run(const Object::Ptr& lowstate, const StopAsked& stop = {});

    // GET / (no auth; salt-api answers "Welcome"): throws ApiUnreachable or
    // Error when salt-api cannot serve. Bounded by `seconds` per socket wait.
    void probe(int seconds) const;

    // A token that is valid now (logs in when needed).
    SaltToken token();
    // Forgets `stale` after the server refused it, so the next token() logs in.
    void forget_token(const std::string& stale);

    // A new HTTP(S) session to salt-api with connect, send and receive
    // timeouts set: nothing we do on a socket can wait forever.
    std::unique_ptr<Poco::Net::HTTPClientSession> open_session(Poco::Timespan receive_timeout) const;
    // The api_url path prefix + `path` (salt-api may sit under a proxy path).
    std::string path(const std::string& p) const;
    const SaltConfig& config() const { return cfg_; }

private:
    SaltToken login();
    HttpAnswer post(const std::string& path, const std::string& body, const std::string& token,
                    const StopAsked& stop) const;
    std::string where() const;  // "salt-api at <url>" for error messages

    SaltConfig cfg_;
    Poco::URI uri_;
    Poco::Net::Context::Ptr tls_;  // only for https
    std::mutex mutex_;             // guards token_
    SaltToken token_;
};

}  // namespace exed::salt
