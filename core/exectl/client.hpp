// exectl's connection to exed: where (url), who (bearer token), which CA
// (--cacert), and plain JSON / NDJSON-stream requests over Poco::Net.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace exectl {

// Flags, then EXED_URL / EXED_TOKEN / EXED_TOKEN_FILE, then the config file
// (~/.config/exed/exectl.conf: url, token, token_file, cacert), then defaults.
struct Endpoint {
    std::string url = "http://127.0.0.1:16808";
    std::string token;
    std::string cacert;
};

// Exit 3: exed cannot be reached, or refused us (auth, TLS, 5xx).
struct Unreachable : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Exit 2: the request was wrong (the server said 4xx about it, or a bad flag).
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Answer {
    int status = 0;
    std::string body;
    Poco::Dynamic::Var json() const;  // the body parsed; throws Unreachable if not JSON
};

class Client {
public:
    explicit Client(Endpoint ep);
    // One request; `body` non-empty is sent as JSON.
    Answer call(const std::string& method, const std::string& path_and_query,
                const std::string& body = "");
    // GET that streams NDJSON: on_line for each non-empty line until the
    // server ends the stream or on_line returns false. A non-200 answer is
    // returned with its body, without calling on_line.
    Answer stream(const std::string& path_and_query, const std::function<bool(const std::string&)>& on_line);
    const Endpoint& endpoint() const { return ep_; }

private:
    std::unique_ptr<Poco::Net::HTTPClientSession> session(int timeout_s) const;
    Endpoint ep_;
    Poco::URI base_;
};

// Reads --url/--token/--cacert values (empty: not given), the environment
// and the config file into an Endpoint. Throws UsageError on an unreadable
// token file.
Endpoint resolve_endpoint(const std::string& url_flag, const std::string& token_flag,
                          const std::string& cacert_flag);

// The message of an error body ({"message": ...}) or the raw body.
std::string error_message(const Answer& a);

}  // namespace exectl
