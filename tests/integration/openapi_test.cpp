// GET /openapi.json against the router itself: every route is documented,
// every documented path answers (not "no such endpoint", not 405), and the
// document passes a standard OpenAPI validator (npm
// @seriousme/openapi-schema-validator, installed by `make test`).
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include "catalogue.hpp"
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
#include <Poco/JSON/Parser.h>
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
    exed::shovey::Store shovey_store(*pool, exed::shovey::node_status::open_list);
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

namespace {

// A schema, following one "$ref": "#/components/schemas/<name>".
Poco::JSON::Object::Ptr resolved(const Poco::JSON::Object::Ptr& doc, Poco::JSON::Object::Ptr schema) {
    if (!schema || !schema->has("$ref")) return schema;
    std::string ref = schema->getValue<std::string>("$ref");
    const std::string prefix = "#/components/schemas/";
    REQUIRE(ref.rfind(prefix, 0) == 0);
    return doc->getObject("components")->getObject("schemas")->getObject(ref.substr(prefix.size()));
}

std::set<std::string> strings_of(const Poco::JSON::Array::Ptr& a) {
    std::set<std::string> out;
    for (size_t i = 0; a && i < a->size(); ++i) out.insert(a->getElement<std::string>(i));
    return out;
}

}  // namespace

// The document is written by hand (docs/openapi.json); the operation
// catalogue (core/catalogue.cpp) is what exed serves. This keeps the two
// one description: each operation's paths, request fields, which are
// required, their types, and the service states.
TEST_CASE("the OpenAPI document describes every operation of the catalogue as the catalogue does") {
    namespace cat = exed::catalogue;
    std::ifstream in(std::string(EXED_SOURCE_DIR) + "/docs/openapi.json");
    REQUIRE(in);
    auto doc = Poco::JSON::Parser().parse(in).extract<Poco::JSON::Object::Ptr>();
    auto paths = doc->getObject("paths");
    REQUIRE(paths);
    for (const auto& op : cat::operations()) {
        CAPTURE(op.name);
        auto item = paths->getObject(std::string("/") + op.name);
        REQUIRE(item);
        REQUIRE(item->getObject("post"));
        // GET /<op> waits for the job when the catalogue allows it; GET
        // /release is the releasers' list, no operation.
        if (op.sync_allowed) CHECK(item->getObject("get")->getValue<std::string>("operationId") ==
                                   std::string(op.name) + "Sync");
        else if (item->has("get")) CHECK(item->getObject("get")->getValue<std::string>("operationId") !=
                                         std::string(op.name) + "Sync");
        auto body = item->getObject("post")->getObject("requestBody")->getObject("content");
        auto schema = resolved(doc, body->getObject("application/json")->getObject("schema"));
        REQUIRE(schema);
        std::set<std::string> fields = {cat::arg::targets, cat::arg::run_timeout}, required = {cat::arg::targets};
        for (const auto& a : op.args) {
            fields.insert(a.name);
            if (a.required) required.insert(a.name);
        }
        auto props = schema->getObject("properties");
        REQUIRE(props);
        std::set<std::string> documented;
        for (const auto& [k, _] : *props) documented.insert(k);
        CHECK(documented == fields);
        CHECK(strings_of(schema->getArray("required")) == required);
        CHECK(!schema->optValue<bool>("additionalProperties", true));  // unknown fields are refused
        for (const auto& a : op.args) {
            CAPTURE(a.name);
            auto p = resolved(doc, props->getObject(a.name));
            REQUIRE(p);
            std::string type = p->optValue<std::string>("type", "");
            switch (a.type) {
                case cat::ArgType::String: CHECK(type == "string"); break;
                case cat::ArgType::Bool: CHECK(type == "boolean"); break;
                case cat::ArgType::Object: CHECK(type == "object"); break;
                case cat::ArgType::StringOrNull:
                    CHECK(type == "string");
                    CHECK(p->optValue<bool>("nullable", false));
                    break;
                case cat::ArgType::Int: {
                    CHECK(type == "integer");
                    if (a.max < a.min) break;  // no range
                    if (auto e = p->getArray("enum")) {  // a small range: its values
                        std::set<int> in_range, listed;
                        for (int v = a.min; v <= a.max; ++v) in_range.insert(v);
                        for (size_t i = 0; i < e->size(); ++i) listed.insert(e->getElement<int>(i));
                        CHECK(listed == in_range);
                    } else {
                        CHECK(p->optValue<int>("minimum", a.min - 1) == a.min);
                        CHECK(p->optValue<int>("maximum", a.max + 1) == a.max);
                    }
                    break;
                }
            }
            if (a.non_empty) CHECK(p->optValue<int>("minLength", 0) == 1);
        }
    }
    // The one service-state enum is sdk.h's, word for word in order.
    auto states = doc->getObject("components")->getObject("schemas")->getObject("ServiceState")->getArray("enum");
    REQUIRE(states);
    REQUIRE(states->size() == cat::service_states().size());
    for (size_t i = 0; i < states->size(); ++i) CHECK(states->getElement<int>(i) == cat::service_states()[i].value);
}
