// GET /openapi.json against the router itself: every route is documented,
// every documented path answers (not "no such endpoint", not 405), and the
// document passes a standard OpenAPI validator (npm
// @seriousme/openapi-schema-validator, installed by `make test`).
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include "http/security/security.hpp"
#include "http/server.hpp"
#include "http/services.hpp"
#include "jobs/locks.hpp"
#include "jobs/queue.hpp"
#include "jobs/queued_leases.hpp"
#include "operate/job_service.hpp"
#include "plugins/in_process_client.hpp"
#include "shovey/face.hpp"

#include <doctest/doctest.h>

#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/String.h>

#include <cstdlib>
#include <fstream>
#include <set>

using namespace exed::test;

namespace {

// The (method, pattern) routes of a real Server and the Shovey face on it,
// built as exed builds them (core/app/exed_app.cpp).
std::set<std::pair<std::string, std::string>> server_routes(const SharedRedis& redis) {
    exed::Settings settings;
    exed::plugins::Registry registry([](const std::string&) { return std::string("{}"); });
    auto pool = redis.pool();
    exed::jobs::Store store(*pool, 60);
    exed::jobs::Locks locks(*pool);
    exed::jobs::Queue queue(*pool);
    exed::plugins::InProcessClient client(registry, settings.executor);
    exed::jobs::QueuedLeases queued;
    exed::operate::Submitter submitter(settings, registry, client, store, locks, queue, queued);
    exed::operate::JobService jobs(settings, client, store, *pool);
    exed::http::security::Security security({}, settings, {},
                                            [](const std::string&) { return std::vector<std::string>{}; });
    exed::http::Services services{settings, registry, submitter, jobs, security};
    exed::http::Server server(services);
    exed::shovey::Store shovey_store(*pool);
    exed::operate::ReadOnlyCall read_only(submitter, client);
    exed::shovey::Face shovey({}, settings, shovey_store, submitter, jobs, read_only, server.router(),
                              "openapi-test", {});
    auto list = server.router().routes();
    return {list.begin(), list.end()};
}

std::string validator() {
    return std::string(EXED_TOOLS_DIR) + "/openapi/node_modules/.bin/validate-api";
}

}  // namespace

TEST_CASE("GET /openapi.json documents every route, names no missing path, and validates") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url()));
    exed.start();
    auto r = http("GET", exed.port(), "/openapi.json");
    REQUIRE(r.status == 200);
    auto doc = r.object();
    CHECK(doc->getValue<std::string>("openapi").rfind("3.", 0) == 0);
    auto paths = doc->getObject("paths");
    REQUIRE(paths);

    auto routes = server_routes(redis);
    CHECK(routes.size() >= 20);
    for (const auto& [method, pattern] : routes) {
        CAPTURE(method);
        CAPTURE(pattern);
        auto item = paths->getObject(pattern);
        CHECK_MESSAGE(item, "route missing from the OpenAPI document");
        if (item) CHECK_MESSAGE(item->has(Poco::toLower(method)), "method missing from the OpenAPI document");
    }

    // Every documented operation exists on the live server.
    std::string jid = http("POST", exed.port(), "/ping", R"({"targets":["node1"]})").object()->getValue<std::string>("jid");
    for (const auto& [path, v] : *paths) {
        auto item = v.extract<Poco::JSON::Object::Ptr>();
        for (const auto& [method, op] : *item) {
            if (method == "parameters") continue;
            std::string upper = Poco::toUpper(method);
            CAPTURE(upper);
            CAPTURE(path);
            CHECK(routes.count({upper, path}) == 1);
            std::string concrete = Poco::replace(path, std::string("{jid}"), jid);
            if (upper == "DELETE") concrete = Poco::replace(path, std::string("{jid}"), std::string("nosuchjob"));
            auto answer = http(upper, exed.port(), concrete, upper == "POST" ? "{}" : "");
            CHECK(answer.status != 405);
            CHECK(answer.message().find("no such endpoint") == std::string::npos);
        }
    }

    // A standard validator of OpenAPI 3 documents.
    REQUIRE_MESSAGE(Poco::File(validator()).exists(), "run `make test` (it installs the validator)");
    exed.dir().write("openapi.json", r.body);
    std::string out = exed.dir().file("validate.out");
    int rc = std::system((validator() + " " + exed.dir().file("openapi.json") + " > " + out + " 2>&1").c_str());
    std::ifstream in(out);
    std::string said((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CAPTURE(said);
    CHECK(rc == 0);
    CHECK(said.find("\"valid\": true") != std::string::npos);
}
