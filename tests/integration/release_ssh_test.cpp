// Releases over real ssh: three sshd hosts on 127.0.0.11-13 (each with its
// own /srv), the ansible executor, a real git repo with three commits, and
// POST /release through a real exed.
#include "support/fixtures.hpp"
#include "support/git_repo.hpp"
#include "support/http_client.hpp"
#include "support/ssh_hosts.hpp"

#include <doctest/doctest.h>

#include <Poco/File.h>

#include <filesystem>
#include <fstream>

using namespace exed::test;

namespace {

struct Fleet {
    SshHosts hosts;
    GitRepo repo{3};
    SharedRedis redis;
    ExedProcess exed;
    Fleet()
        : exed(test_config(redis.url(),
                           "[runner]\nexecutor = ansible\n"
                           "[ansible]\ninventory = " + hosts.inventory_path() +
                               "\nsshkey = " + hosts.key_path() +
                               "\nknown_hosts = " + hosts.known_hosts_path() +
                               "\ntimeout = 3\nrun_dir = @DIR@/ansible\n",
                           EXED_BUILD_DIR "/plugins")) {
        exed.start();
    }

    Poco::JSON::Object::Ptr post(const std::string& body) {
        auto r = http("POST", exed.port(), "/release", body);
        REQUIRE_MESSAGE(r.status == 201, r.body);
        std::string jid = r.object()->getValue<std::string>("jid");
        LineStream follow(exed.port(), "/jobs/" + jid + "?follow=1", {}, 120);
        std::string line;
        while (follow.next(line)) {
        }
        return http("GET", exed.port(), "/jobs/" + jid + "?outputs=1").object();
    }
    Poco::JSON::Object::Ptr release(const std::string& rev, const std::string& opts = "",
                                    bool rollback = false) {
        return post(R"({"targets":["nodes"],"appname":"shop","apptype":"common","revision":")" + rev +
                    "\",\"rollback\":" + (rollback ? "true" : "false") + R"(,"extra_opts":{"giturl":")" +
                    repo.url() + "\"" + opts + "}}");
    }
    // What host i serves: VERSION of its current release ("" when none).
    std::string live(int i) {
        std::ifstream in(hosts.srv_dir(i) + "/apps/shop/current/VERSION");
        std::string v;
        std::getline(in, v);
        return v;
    }
    static int status(const Poco::JSON::Object::Ptr& job, const std::string& host) {
        return job->getObject("return_data")->getObject(host)->getValue<int>("status");
    }
};

}  // namespace

TEST_CASE("release, query, rollback, prune across three ssh hosts") {
    Fleet f;
    auto job = f.release(f.repo.sha(1));
    REQUIRE_MESSAGE(job->getValue<int>("state") == 0, job->getValue<std::string>("error"));
    for (int i = 0; i < 3; ++i) CHECK(f.live(i) == "1");
    // Each host has its own /srv: the release really happened three times.
    CHECK(Poco::File(f.hosts.srv_dir(0) + "/apps/shop/releases/" + f.repo.sha(1)).exists());
    CHECK_FALSE(Poco::File("/srv/apps/shop").exists());

    job = f.release("v2");
    CHECK(job->getValue<int>("state") == 0);
    for (int i = 0; i < 3; ++i) CHECK(f.live(i) == "2");

    job = f.release("?");
    for (const char* h : {"node1", "node2", "node3"})
        CHECK(job->getObject("return_data")->getObject(h)->getValue<std::string>("revision") == "v2");

    job = f.release(f.repo.sha(1), "", true);  // rollback to A
    CHECK(job->getValue<int>("state") == 0);
    for (int i = 0; i < 3; ++i) CHECK(f.live(i) == "1");
    job = f.release("v2", "", true);
    job = f.release("", "", true);  // empty: the release before the live one
    CHECK(job->getValue<int>("state") == 0);
    for (int i = 0; i < 3; ++i) CHECK(f.live(i) == "1");

    job = f.release("no-such-tag");
    CHECK(job->getValue<int>("state") == 2);
    CHECK(Fleet::status(job, "node2") == 2);
    for (int i = 0; i < 3; ++i) CHECK(f.live(i) == "1");  // current untouched

    job = f.release("v3", R"(,"keep":2)");
    CHECK(job->getValue<int>("state") == 0);
    size_t kept = 0;
    for (auto& e : std::filesystem::directory_iterator(f.hosts.srv_dir(2) + "/apps/shop/releases")) {
        (void)e;
        ++kept;
    }
    CHECK(kept == 2);
    CHECK(f.live(2) == "3");
}

TEST_CASE("a rolling release (concurrency 1) stops at an unreachable host") {
    Fleet f;
    f.hosts.stop(1);  // node2 goes down
    auto job = f.release("v1", R"(,"concurrency":1)");
    CHECK(job->getValue<int>("state") == 2);
    CHECK(Fleet::status(job, "node1") == 4);
    CHECK(Fleet::status(job, "node2") == 3);
    CHECK(Fleet::status(job, "node3") == 1);  // never attempted
    CHECK(f.live(0) == "1");
    CHECK(f.live(2).empty());
}
