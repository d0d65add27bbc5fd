// One HTTP exchange as the route handlers see it.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NameValueCollection.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace exed::http {

namespace security { struct Caller; }

struct Context {
    Poco::Net::HTTPServerRequest& request;
    Poco::Net::HTTPServerResponse& response;
    size_t max_body;
    std::map<std::string, std::string> params;  // from the path, e.g. {jid}
    Poco::Net::NameValueCollection query;       // last value wins
    long bytes_sent = -1;                       // for the access log; -1 when streamed
    std::shared_ptr<const security::Caller> caller;  // who asks (http/security)
    std::vector<std::string> targets;           // expanded hosts, for the audit line
    std::string route;                          // the matched pattern ("/jobs/{jid}"), for metrics

    // The request body as a JSON object: 413 when larger than max_body,
    // 400 when it is not a JSON object.
    Poco::JSON::Object::Ptr body_object();
    void json(int status, const Poco::Dynamic::Var& body);
    void no_content();
    bool sent() const { return response.sent(); }
    // Query flag ("1", "true", ...) with 400 on a bad value.
    bool flag(const std::string& name);
    // Rejects query parameters not in `allowed` with 400.
    void only_params(std::initializer_list<const char*> allowed);
};

}  // namespace exed::http
