// Shared by the Shovey suites: an exed with the Shovey face on a real
// redis-server, and small polling helpers over its HTTP API.
#pragma once

#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <Poco/JSON/Array.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace exed::test {

// Polls `cond` every 100 ms for up to `seconds`; its last answer.
inline bool eventually(const std::function<bool()>& cond, int seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (true) {
        if (cond()) return true;
        if (std::chrono::steady_clock::now() >= until) return cond();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

inline std::string node_status(int port, const std::string& node) {
    auto r = http("GET", port, "/status/node/" + node + "/latest");
    return r.status == 200 ? r.object()->getValue<std::string>("status") : "";
}

inline std::string create_job(int port, const std::string& body) {
    auto r = http("POST", port, "/shovey/jobs", body);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return r.object()->getValue<std::string>("id");
}

inline Poco::JSON::Object::Ptr job_doc(int port, const std::string& id) {
    auto r = http("GET", port, "/shovey/jobs/" + id);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.object();
}

// The job's document once its status is one of `want` (comma-separated),
// or the last one seen after `seconds`.
inline Poco::JSON::Object::Ptr wait_job(int port, const std::string& id, const std::string& want,
                                        int seconds = 120) {
    Poco::JSON::Object::Ptr doc;
    eventually([&] {
        doc = job_doc(port, id);
        return ("," + want + ",").find("," + doc->getValue<std::string>("status") + ",") != std::string::npos;
    }, seconds);
    return doc;
}

// Node names under nodes.<status> of a job document (in order).
inline std::vector<std::string> nodes_in(const Poco::JSON::Object::Ptr& doc, const std::string& status) {
    std::vector<std::string> out;
    auto a = doc->getObject("nodes")->getArray(status);
    if (a)
        for (size_t i = 0; i < a->size(); ++i) out.push_back(a->getElement<std::string>(i));
    return out;
}

inline Poco::JSON::Object::Ptr run_doc(int port, const std::string& id, const std::string& node) {
    auto r = http("GET", port, "/shovey/jobs/" + id + "/" + node);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.object();
}

}  // namespace exed::test
