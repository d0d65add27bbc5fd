// The common releaser's logic through the API with real git, on ONE local
// host via the test executor (runs commands on this machine). The
// multi-host version over real ssh is release_ssh_test.cpp.
#include "support/fixtures.hpp"
#include "support/git_repo.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <Poco/File.h>
#include <Poco/JSON/Parser.h>

#include <filesystem>
#include <fstream>
#include <thread>

using namespace exed::test;

namespace {

struct Releases {
    SharedRedis redis;
    TempDir root;
    GitRepo repo{3};
    ExedProcess exed;
    Releases()
        : exed(test_config(redis.url(), "[common]\nroot = " + root.path() + "\n",
                           test_plugin_dir("good") + "," + EXED_BUILD_DIR "/plugins")) {
        exed.start();
    }

    // POST /release and wait for the end; returns the job with outputs.
    Poco::JSON::Object::Ptr release(const std::string& revision, const std::string& extra = "",
                                    bool rollback = false) {
        std::string body = R"({"targets":["node1"],"appname":"shop","apptype":"common","revision":")" +
                           revision + "\",\"rollback\":" + (rollback ? "true" : "false") +
                           R"(,"extra_opts":{"giturl":")" + repo.url() + "\"" + extra + "}}";
        auto r = http("POST", exed.port(), "/release", body);
        REQUIRE_MESSAGE(r.status == 201, r.body);
        std::string jid = r.object()->getValue<std::string>("jid");
        LineStream follow(exed.port(), "/jobs/" + jid + "?follow=1");
        std::string line;
        while (follow.next(line)) {
        }
        return http("GET", exed.port(), "/jobs/" + jid + "?outputs=1").object();
    }
    Poco::JSON::Object::Ptr host(const Poco::JSON::Object::Ptr& job) {
        return job->getObject("return_data")->getObject("node1");
    }
    std::string live_version() {
        std::ifstream in(root.file("shop/current/VERSION"));
        std::string v;
        std::getline(in, v);
        return v;
    }
    std::string live_link() {
        return std::filesystem::read_symlink(root.file("shop/current")).string();
    }
};

}  // namespace

TEST_CASE("release, query, rollback and prune on one host (test executor, real git)") {
    Releases t;
    auto job = t.release(t.repo.sha(1));
    CHECK(job->getValue<int>("state") == 0);
    CHECK(t.host(job)->getValue<int>("status") == 4);
    CHECK(t.host(job)->getValue<std::string>("commit") == t.repo.sha(1));
    CHECK(t.live_version() == "1");
    CHECK(t.live_link() == "releases/" + t.repo.sha(1));  // relative, atomic rename

    job = t.release("v2");  // a tag
    CHECK(t.host(job)->getValue<std::string>("revision") == "v2");
    CHECK(t.host(job)->getValue<std::string>("commit") == t.repo.sha(2));
    CHECK(t.live_version() == "2");

    job = t.release("?");
    CHECK(t.host(job)->getValue<std::string>("revision") == "v2");
    CHECK(t.live_version() == "2");

    job = t.release("", "", true);  // rollback to the previous release
    CHECK(job->getValue<int>("state") == 0);
    CHECK(t.host(job)->getValue<std::string>("revision") == t.repo.sha(1));
    CHECK(t.live_version() == "1");
    job = t.release("", "", true);  // nothing older than the first release
    CHECK(job->getValue<int>("state") == 2);
    CHECK(t.host(job)->getValue<std::string>("error").find("no release older than") != std::string::npos);
    CHECK(t.live_version() == "1");

    job = t.release("v2", "", true);  // rollback to a present revision
    CHECK(t.live_version() == "2");
    job = t.release("v3", "", true);  // never released here
    CHECK(job->getValue<int>("state") == 2);
    CHECK(t.host(job)->getValue<std::string>("error") == "revision v3 is not present on this host");
    CHECK(t.live_version() == "2");

    // A revision that does not exist fails and leaves `current` alone.
    job = t.release("v9");
    CHECK(job->getValue<int>("state") == 2);
    CHECK(t.host(job)->getValue<std::string>("error").find("neither a full commit id nor a tag") != std::string::npos);
    CHECK(t.live_version() == "2");
    CHECK_FALSE(Poco::File(t.root.file("shop/releases/v9")).exists());

    // keep = 2: releasing v3 prunes down to the two newest.
    job = t.release("v3", R"(,"keep":2)");
    CHECK(t.live_version() == "3");
    std::vector<std::string> kept;
    for (auto& e : std::filesystem::directory_iterator(t.root.file("shop/releases")))
        kept.push_back(e.path().filename().string());
    std::sort(kept.begin(), kept.end());
    CHECK(kept == std::vector<std::string>{"v2", "v3"});
}

TEST_CASE("graceful reload runs after the switch; a failing reload fails the host") {
    Releases t;
    std::string marker = t.root.file("reloaded");
    auto job = t.release("v1", R"(,"graceful_reload":true,"reload_cmd":"touch )" + marker + "\"");
    CHECK(job->getValue<int>("state") == 0);
    CHECK(Poco::File(marker).exists());
    job = t.release("v2", R"(,"graceful_reload":true,"reload_cmd":"false")");
    CHECK(job->getValue<int>("state") == 2);
    CHECK(t.host(job)->getValue<std::string>("error").find("switched, but the reload failed") == 0);
}

TEST_CASE("bad release requests are refused before a job exists") {
    Releases t;
    struct Case {
        std::string body;
        const char* message;
    };
    std::string head = R"({"targets":["node1"],"apptype":"common",)";
    const Case cases[] = {
        {head + R"("appname":"shop","revision":"v1"})", "extra_opts.giturl is required"},
        {head + R"("appname":"shop","revision":"v1","extra_opts":{"giturl":"x","colour":"red"}})", "unknown extra_opts key 'colour'"},
        {head + R"("appname":"shop","revision":"../etc","extra_opts":{"giturl":"x"}})", "revision must be a full commit id or a tag"},
        {head + R"("appname":"../shop","revision":"v1","extra_opts":{"giturl":"x"}})", "appname must be"},
        {head + R"("appname":"shop","revision":"v1","extra_opts":{"giturl":"x","keep":0}})", "extra_opts.keep must be a positive integer"},
        {head + R"("appname":"shop","revision":"v1","extra_opts":{"giturl":"x","concurrency":"2"}})", "extra_opts.concurrency must be"},
        {head + R"("appname":"shop","revision":"v1","extra_opts":{"giturl":"x","root":"rel/path"}})", "extra_opts.root must be an absolute path"},
        {head + R"("appname":"shop","revision":"v1","extra_opts":{"giturl":"x","graceful_reload":true}})", "graceful_reload needs"},
        {head + R"("appname":"shop","revision":"v1","extra_opts":{"giturl":"--upload-pack=x"}})", "must not start with '-'"},
        {head + R"("appname":"shop","revision":"","extra_opts":{"giturl":"x"}})", "revision must not be empty"},
        {head + R"("appname":"shop"})", "revision is required"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.body);
        auto r = http("POST", t.exed.port(), "/release", c.body);
        CHECK(r.status == 400);
        CHECK(r.message().find(c.message) != std::string::npos);
    }
    CHECK(http("GET", t.exed.port(), "/jobs").body == "[]");
    CHECK(http("GET", t.exed.port(), "/release").body == R"([{"name":"common_release","type":"common"}])");
}
