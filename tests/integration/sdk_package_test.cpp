// A third party's view: install exed to a temp prefix, build the examples
// out of tree with nothing but find_package(exed-sdk), load them in exed.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <Poco/JSON/Array.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace exed::test;

namespace {
// Runs a shell command line (test harness only), output into `log`.
int sh(const std::string& cmd, const std::string& log) {
    return std::system((cmd + " >>" + log + " 2>&1").c_str());
}
std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
}  // namespace

TEST_CASE("examples build out of tree against the installed SDK and load in exed") {
    TempDir work;
    const std::string cmake = EXED_CMAKE, log = work.file("build.log");
    const std::string prefix = work.file("prefix");
    REQUIRE_MESSAGE(sh(cmake + " --install " EXED_BUILD_DIR " --prefix " + prefix, log) == 0, slurp(log));
    CHECK(std::ifstream(prefix + "/include/exed/sdk.h").good());
    CHECK(std::ifstream(prefix + "/lib/cmake/exed-sdk/exed-sdkConfig.cmake").good());
    // The package version is the ABI version sdk.h declares: 1.4 down to
    // 1.0 are found, 1.5 (newer than this SDK) and 2 are not.
    for (const char* want : {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "2.0"}) {
        std::string proj = work.file(std::string("want-") + want);
        std::filesystem::create_directories(proj);
        std::ofstream(proj + "/CMakeLists.txt")
            << "cmake_minimum_required(VERSION 3.25)\nproject(want LANGUAGES CXX)\n"
            << "find_package(exed-sdk " << want << " REQUIRED)\n";
        bool found = sh(cmake + " -S " + proj + " -B " + proj + "/build -DCMAKE_PREFIX_PATH=" + prefix,
                        log) == 0;
        CAPTURE(want);
        CHECK(found == (std::string(want) != "1.5" && std::string(want) != "2.0"));
    }
    for (const char* ex : {"executor-hello", "releaser-hello"}) {
        std::string src = std::string(EXED_SOURCE_DIR) + "/examples/" + ex;
        std::string bin = work.file(ex);
        // No path into our source or build tree: only the installed prefix.
        REQUIRE_MESSAGE(sh(cmake + " -S " + src + " -B " + bin + " -DCMAKE_PREFIX_PATH=" + prefix, log) == 0,
                        slurp(log));
        REQUIRE_MESSAGE(sh(cmake + " --build " + bin, log) == 0, slurp(log));
    }
    SharedRedis redis;
    std::string conf = test_config(redis.url(), "[hello]\nhosts = h1,h2\n",
                                   work.file("executor-hello") + "," + work.file("releaser-hello"));
    ExedProcess exed(conf + "[runner]\nexecutor = hello\n");
    exed.start();
    auto plugins = http("GET", exed.port(), "/plugins").json().extract<Poco::JSON::Array::Ptr>();
    CHECK(plugins->size() == 2);
    CHECK(http("GET", exed.port(), "/release").body == R"([{"name":"hello_release","type":"hello"}])");
    auto r = http("GET", exed.port(), "/execute?target=h1&cmd=uptime");
    REQUIRE(r.status == 200);
    CHECK(r.object()->getObject("h1")->getValue<std::string>("stdout") == "hello from h1: uptime\n");
    // The releaser drives the executor through the host API.
    r = http("POST", exed.port(), "/release",
             R"({"targets":["h1","h2"],"appname":"shop","apptype":"hello","revision":"v2"})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    LineStream follow(exed.port(), "/jobs/" + jid + "?follow=1");
    std::string line, last;
    int host_events = 0;
    while (follow.next(line)) {
        if (line.find("\"event\":\"host\"") != std::string::npos) ++host_events;
        last = line;
    }
    CHECK(host_events == 2);  // the executor's events reach the release job
    CHECK(last.find("\"status\":\"done\"") != std::string::npos);
    auto job = http("GET", exed.port(), "/jobs/" + jid + "?outputs=1").object();
    CHECK(job->getObject("return_data")->getObject("h2")->getValue<std::string>("stdout") ==
          "hello from h2: echo release shop v2\n");
    r = http("POST", exed.port(), "/release",
             R"({"targets":["h1"],"appname":"shop","apptype":"hello","revision":"v2","extra_opts":{"x":1}})");
    CHECK(r.status == 400);
    CHECK(r.message() == "hello takes no extra_opts");
}
