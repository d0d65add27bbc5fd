#include "exectl/client.hpp"

#include <Poco/Environment.h>
#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <fstream>

namespace exectl {

namespace {

std::string first_line_of(const std::string& path, const char* what) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line) || Poco::trim(line).empty())
        throw UsageError(std::string(what) + " " + path + " is not readable or empty");
    return Poco::trim(line);
}

std::string config_file_path() {
    std::string base = Poco::Environment::get("XDG_CONFIG_HOME", "");
    if (base.empty()) base = Poco::Environment::get("HOME", "") + "/.config";
    return base + "/exed/exectl.conf";
}

// Turns any network/TLS failure into Unreachable with one line of reason.
template <typename F>
auto guarded(const std::string& url, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Poco::Net::SSLException& e) {
        throw Unreachable("TLS with " + url + " failed: " + e.displayText());
    } catch (const Poco::Net::NetException& e) {
        throw Unreachable("cannot reach exed at " + url + ": " + e.displayText());
    } catch (const Poco::TimeoutException& e) {
        throw Unreachable("exed at " + url + " did not answer in time");
    } catch (const Poco::IOException& e) {
        throw Unreachable("cannot reach exed at " + url + ": " + e.displayText());
    }
}

}  // namespace

Poco::Dynamic::Var Answer::json() const {
    try {
        return Poco::JSON::Parser().parse(body);
    } catch (const Poco::Exception& e) {
        throw Unreachable("exed answered " + std::to_string(status) + " with a body that is not JSON");
    }
}

std::string error_message(const Answer& a) {
    try {
        auto v = Poco::JSON::Parser().parse(a.body);
        if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
            auto o = v.extract<Poco::JSON::Object::Ptr>();
            if (o->has("message")) return o->getValue<std::string>("message");
        }
    } catch (const Poco::Exception&) {
    }
    return a.body.empty() ? "HTTP " + std::to_string(a.status) : a.body;
}

Endpoint resolve_endpoint(const std::string& url_flag, const std::string& token_flag,
                          const std::string& cacert_flag) {
    Endpoint ep;
    std::string file = config_file_path();
    if (Poco::File(file).exists()) {
        Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini;
        try {
            ini = new Poco::Util::IniFileConfiguration(file);
        } catch (const Poco::Exception& e) {
            throw UsageError("cannot read " + file + ": " + e.displayText());
        }
        ep.url = ini->getString("url", ep.url);
        ep.cacert = ini->getString("cacert", ep.cacert);
        if (ini->has("token")) ep.token = ini->getString("token");
        else if (ini->has("token_file")) ep.token = first_line_of(ini->getString("token_file"), "token_file");
    }
    if (Poco::Environment::has("EXED_URL") && !Poco::Environment::get("EXED_URL").empty())
        ep.url = Poco::Environment::get("EXED_URL");
    if (Poco::Environment::has("EXED_TOKEN") && !Poco::Environment::get("EXED_TOKEN").empty())
        ep.token = Poco::Environment::get("EXED_TOKEN");
    else if (Poco::Environment::has("EXED_TOKEN_FILE") && !Poco::Environment::get("EXED_TOKEN_FILE").empty())
        ep.token = first_line_of(Poco::Environment::get("EXED_TOKEN_FILE"), "EXED_TOKEN_FILE");
    if (!url_flag.empty()) ep.url = url_flag;
    if (!token_flag.empty()) ep.token = token_flag;
    if (!cacert_flag.empty()) ep.cacert = cacert_flag;
    return ep;
}

Client::Client(Endpoint ep) : ep_(std::move(ep)) {
    try {
        base_ = Poco::URI(ep_.url);
    } catch (const Poco::Exception& e) {
        throw UsageError("bad url " + ep_.url + ": " + e.displayText());
    }
    if ((base_.getScheme() != "http" && base_.getScheme() != "https") || base_.getHost().empty())
        throw UsageError("bad url " + ep_.url + ": expected http://HOST[:PORT] or https://HOST[:PORT]");
    if (!ep_.cacert.empty() && !Poco::File(ep_.cacert).exists())
        throw UsageError("--cacert " + ep_.cacert + " does not exist");
}

std::unique_ptr<Poco::Net::HTTPClientSession> Client::session(int timeout_s) const {
    std::unique_ptr<Poco::Net::HTTPClientSession> s;
    if (base_.getScheme() == "https") {
        // Verify the server against --cacert when given, else the system CAs.
        Poco::Net::Context::Ptr ctx = new Poco::Net::Context(
            Poco::Net::Context::TLS_CLIENT_USE, "", "", ep_.cacert, Poco::Net::Context::VERIFY_RELAXED, 9,
            ep_.cacert.empty());
        s = std::make_unique<Poco::Net::HTTPSClientSession>(base_.getHost(), base_.getPort(), ctx);
    } else {
        s = std::make_unique<Poco::Net::HTTPClientSession>(base_.getHost(), base_.getPort());
    }
    s->setTimeout(Poco::Timespan(timeout_s, 0));
    return s;
}

Answer Client::call(const std::string& method, const std::string& path_and_query, const std::string& body) {
    return guarded(ep_.url, [&] {
        auto s = session(60);
        Poco::Net::HTTPRequest req(method, base_.getPath() + path_and_query, Poco::Net::HTTPMessage::HTTP_1_1);
        if (!ep_.token.empty()) req.set("Authorization", "Bearer " + ep_.token);
        if (!body.empty()) {
            req.setContentType("application/json");
            req.setContentLength64(Poco::Int64(body.size()));
        }
        s->sendRequest(req) << body;
        Poco::Net::HTTPResponse resp;
        std::istream& in = s->receiveResponse(resp);
        Answer a;
        a.status = int(resp.getStatus());
        Poco::StreamCopier::copyToString(in, a.body);
        return a;
    });
}

Answer Client::stream(const std::string& path_and_query,
                      const std::function<bool(const std::string&)>& on_line) {
    return guarded(ep_.url, [&] {
        // The server sends a keep-alive line every 15 s on an idle stream.
        auto s = session(60);
        Poco::Net::HTTPRequest req("GET", base_.getPath() + path_and_query, Poco::Net::HTTPMessage::HTTP_1_1);
        if (!ep_.token.empty()) req.set("Authorization", "Bearer " + ep_.token);
        req.set("Accept", "application/x-ndjson");
        s->sendRequest(req);
        Poco::Net::HTTPResponse resp;
        std::istream& in = s->receiveResponse(resp);
        Answer a;
        a.status = int(resp.getStatus());
        if (a.status != 200) {
            Poco::StreamCopier::copyToString(in, a.body);
            return a;
        }
        std::string line;
        while (std::getline(in, line)) {
            if (Poco::trim(line).empty()) continue;  // keep-alive
            if (!on_line(line)) break;
        }
        return a;
    });
}

}  // namespace exectl
