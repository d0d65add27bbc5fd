// A small HTTP client for tests (Poco::Net), loopback only.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPResponse.h>

#include <map>
#include <memory>
#include <string>

namespace exed::test {

struct HttpResponse {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;

    Poco::Dynamic::Var json() const;
    Poco::JSON::Object::Ptr object() const;      // throws if not an object
    std::string message() const;                 // body's "message"
    std::string header(const std::string& name) const;
};

HttpResponse http(const std::string& method, int port, const std::string& path,
                  const std::string& body = "",
                  const std::map<std::string, std::string>& headers = {}, int timeout_s = 60);

// Reads a streamed response (follow mode) line by line as it arrives.
class LineStream {
public:
    LineStream(int port, const std::string& path, const std::map<std::string, std::string>& headers = {},
               int timeout_s = 30);
    int status() const { return status_; }
    std::string header(const std::string& name) const;
    // Next line without the newline; false at the end of the stream.
    bool next(std::string& line);

private:
    std::unique_ptr<Poco::Net::HTTPClientSession> session_;
    Poco::Net::HTTPResponse response_;
    std::istream* in_ = nullptr;
    int status_ = 0;
};

// Percent-encodes a query value.
std::string q(const std::string& value);

}  // namespace exed::test
