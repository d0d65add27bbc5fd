// Baseline (a) of the async-submit benchmark: the least a Poco HTTP server
// can do to answer `POST /ping` the way exed does -- same server class and
// parameters as core/http/server.cpp (thread pool, keep-alive), the body
// read and parsed as JSON, a fresh random UUID, 201 + Location + {"jid"}.
// No Redis, no plugin: what is left of exed's figure above this is exed.
//
//   poco_echo <port> [threads]      listens on 127.0.0.1 only
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/UUIDGenerator.h>

#include <csignal>
#include <iostream>
#include <sstream>
#include <string>

#include <pthread.h>

using namespace Poco::Net;

namespace {

class PingHandler : public HTTPRequestHandler {
public:
    void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
        std::string body;
        char buf[8192];
        std::istream& in = req.stream();
        while (in.read(buf, sizeof buf) || in.gcount() > 0) body.append(buf, size_t(in.gcount()));
        // Parse like exed does, so JSON cost is in the baseline too.
        auto args = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
        if (!args->has("targets")) {
            resp.setStatus(HTTPResponse::HTTP_BAD_REQUEST);
            resp.setContentLength(0);
            resp.send();
            return;
        }
        std::string jid = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
        Poco::JSON::Object out;
        out.set("jid", jid);
        std::ostringstream text;
        Poco::JSON::Stringifier::condense(out, text);
        resp.setStatusAndReason(HTTPResponse::HTTP_CREATED);
        resp.set("Location", "/jobs/" + jid);
        resp.setContentType("application/json");
        resp.setContentLength64(Poco::Int64(text.str().size()));
        resp.send() << text.str();
    }
};

class Factory : public HTTPRequestHandlerFactory {
public:
    HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
        return new PingHandler;
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: poco_echo <port> [threads]\n";
        return 2;
    }
    int port = std::stoi(argv[1]);
    int threads = argc > 2 ? std::stoi(argv[2]) : 64;
    // Block the stop signals before any thread exists, so that every thread
    // inherits the mask and sigwait() below is the one that takes them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ServerSocket socket;
    socket.bind(SocketAddress("127.0.0.1", Poco::UInt16(port)), true);
    socket.listen(256);
    auto* params = new HTTPServerParams;  // the same settings as exed's server
    params->setMaxThreads(threads);
    params->setMaxQueued(1024);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);
    params->setKeepAliveTimeout(Poco::Timespan(15, 0));
    HTTPServer server(new Factory, socket, params);
    server.start();
    // Run until SIGTERM/SIGINT; the bench driver stops us.
    int sig = 0;
    sigwait(&set, &sig);
    server.stopAll(true);
    return 0;
}
