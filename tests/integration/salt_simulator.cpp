#include "integration/salt_simulator.hpp"

#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace exed::test {

using Poco::JSON::Array;
using Poco::JSON::Object;

SaltApiSimulator::SaltApiSimulator(const std::vector<std::string>& args) {
    dir_ = Poco::TemporaryFile::tempName();
    Poco::File(dir_).createDirectories();
    const std::string port_file = dir_ + "/port";
    std::vector<std::string> argv = {
        "/usr/bin/python3", std::string(EXED_SOURCE_DIR) + "/tests/fixtures/salt_api_simulator.py",
        "--port", "0", "--port-file", port_file,
        "--states-dir", std::string(EXED_SOURCE_DIR) + "/tests/fixtures/salt_states"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    if (posix_spawn(&pid_, cargv[0], nullptr, nullptr, cargv.data(), environ) != 0)
        throw std::runtime_error("cannot start the salt-api simulator");
    for (int i = 0; i < 200 && port_ == 0; ++i) {  // up to 10 s
        std::ifstream in(port_file);
        if (!(in >> port_)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (port_ == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        throw std::runtime_error("the salt-api simulator did not start");
    }
}

SaltApiSimulator::~SaltApiSimulator() {
    kill(pid_, SIGTERM);  // it kills the commands it still runs, then exits
    waitpid(pid_, nullptr, 0);
    Poco::File(dir_).remove(true);
}

std::string SaltApiSimulator::call(const std::string& method, const std::string& path) const {
    Poco::Net::HTTPClientSession s("127.0.0.1", Poco::UInt16(port_));
    s.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPRequest::HTTP_1_1);
    req.setContentLength(0);
    s.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string body;
    Poco::StreamCopier::copyToString(s.receiveResponse(resp), body);
    return body;
}

Array::Ptr SaltApiSimulator::requests() const {
    return Poco::JSON::Parser().parse(call("GET", "/_sim/requests")).extract<Array::Ptr>();
}

std::vector<Object::Ptr> SaltApiSimulator::lowstates(const std::string& client,
                                                     const std::string& fun) const {
    std::vector<Object::Ptr> out;
    auto reqs = requests();
    for (size_t i = 0; i < reqs->size(); ++i) {
        auto r = reqs->getObject(unsigned(i));
        if (r->getValue<std::string>("path") != "/" || r->getValue<std::string>("method") != "POST")
            continue;
        auto chunks = r->getArray("body");
        for (size_t j = 0; chunks && j < chunks->size(); ++j) {
            auto low = chunks->getObject(unsigned(j));
            if (!client.empty() && low->optValue<std::string>("client", "") != client) continue;
            if (!fun.empty() && low->optValue<std::string>("fun", "") != fun) continue;
            out.push_back(low);
        }
    }
    return out;
}

int SaltApiSimulator::count(const std::string& method, const std::string& path) const {
    int n = 0;
    auto reqs = requests();
    for (size_t i = 0; i < reqs->size(); ++i) {
        auto r = reqs->getObject(unsigned(i));
        std::string p = r->getValue<std::string>("path");
        if (r->getValue<std::string>("method") == method && p.substr(0, p.find('?')) == path) ++n;
    }
    return n;
}

Object::Ptr SaltApiSimulator::jobs() const {
    return Poco::JSON::Parser().parse(call("GET", "/_sim/jobs")).extract<Object::Ptr>();
}

void SaltApiSimulator::revoke_tokens() const { call("POST", "/_sim/revoke_tokens"); }

void SaltApiSimulator::restart_api(double down_s) const {
    call("POST", "/_sim/restart_api?down=" + std::to_string(down_s));
    // Returns once the port is closed, so callers see salt-api gone.
    for (int i = 0; i < 100; ++i) {
        try {
            Poco::Net::StreamSocket probe;
            probe.connect(Poco::Net::SocketAddress("127.0.0.1", Poco::UInt16(port_)),
                          Poco::Timespan(1, 0));
        } catch (const Poco::Exception&) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("the simulated salt-api did not go down");
}

void SaltApiSimulator::delete_key(const std::string& minion) const {
    call("POST", "/_sim/delete_key?minion=" + minion);
}

SaltPlugin::SaltPlugin(const std::string& api_url, std::map<std::string, std::string> overrides)
    : registry([api_url, overrides](const std::string& type) {
          if (type != "salt") return std::string("{}");
          Object cfg;
          cfg.set("api_url", api_url);
          cfg.set("username", std::string("saltapi"));
          cfg.set("password", std::string("secret"));
          cfg.set("eauth", std::string("sharedsecret"));
          cfg.set("timeout", std::string("1"));  // keeps down-minion tests short
          cfg.set("poll_interval", std::string("0.2"));
          for (auto& [k, v] : overrides) cfg.set(k, v);
          std::ostringstream out;
          cfg.stringify(out);
          return out.str();
      }) {
    if (registry.load_file(std::string(EXED_BUILD_PLUGIN_DIR) + "/exed_salt.so"))
        plugin = registry.find("executor", "salt");
}

}  // namespace exed::test
