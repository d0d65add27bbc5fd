#include "support/http_client.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace exed::test {

Poco::Dynamic::Var HttpResponse::json() const { return Poco::JSON::Parser().parse(body); }
Poco::JSON::Object::Ptr HttpResponse::object() const { return json().extract<Poco::JSON::Object::Ptr>(); }
std::string HttpResponse::message() const {
    try {
        return object()->optValue<std::string>("message", "");
    } catch (...) {
        return "(no JSON body: " + body + ")";
    }
}
std::string HttpResponse::header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
}

HttpResponse http(const std::string& method, int port, const std::string& path,
                  const std::string& body, const std::map<std::string, std::string>& headers,
                  int timeout_s) {
    Poco::Net::HTTPClientSession s("127.0.0.1", Poco::UInt16(port));
    s.setTimeout(Poco::Timespan(timeout_s, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST") {
        req.setContentType("application/json");
        req.setContentLength64(Poco::Int64(body.size()));
    }
    s.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = s.receiveResponse(resp);
    HttpResponse out;
    out.status = int(resp.getStatus());
    for (auto& [k, v] : resp) out.headers[k] = v;
    Poco::StreamCopier::copyToString(in, out.body);
    return out;
}

LineStream::LineStream(int port, const std::string& path,
                       const std::map<std::string, std::string>& headers, int timeout_s)
    : session_(std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", Poco::UInt16(port))) {
    session_->setTimeout(Poco::Timespan(timeout_s, 0));
    Poco::Net::HTTPRequest req("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (auto& [k, v] : headers) req.set(k, v);
    session_->sendRequest(req);
    in_ = &session_->receiveResponse(response_);
    status_ = int(response_.getStatus());
}

std::string LineStream::header(const std::string& name) const { return response_.get(name, ""); }

bool LineStream::next(std::string& line) {
    return bool(std::getline(*in_, line));
}

std::string q(const std::string& value) {
    std::string out;
    Poco::URI::encode(value, "&=+?#/ ", out);
    return out;
}

}  // namespace exed::test
