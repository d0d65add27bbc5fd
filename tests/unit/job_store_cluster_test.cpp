// The job store on a one-node Redis Cluster (cluster-enabled, all 16384
// slots on it), started here on a unix socket: Redis then refuses any
// command or script whose keys span hash slots (CROSSSLOT). Every step of a
// job's life runs here, so a key without its hash tag, or a script that
// reaches another slot, fails this test (on 9c8ed68: the create, claim and
// settle scripts spanned the job, the index, the queue and the locks).
#include "jobs/keys.hpp"
#include "jobs/locks.hpp"
#include "jobs/queue.hpp"
#include "jobs/store.hpp"
#include "support/temp_dir.hpp"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

using namespace exed;

namespace {

int free_port() {
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    return s.address().port();
}

struct ClusterRedis {
    test::TempDir dir;
    std::unique_ptr<redis::Pool> pool;
    ClusterRedis() {
        const std::string d = dir.path();
        // No TCP port for clients; the cluster bus needs one: a free one.
        std::string cmd = "redis-server --port 0 --unixsocket " + d + "/redis.sock --cluster-enabled yes" +
                          " --cluster-port " + std::to_string(free_port()) +
                          " --cluster-config-file " + d + "/nodes.conf --dir " + d + " --daemonize yes" +
                          " --pidfile " + d + "/redis.pid --logfile " + d + "/redis.log --save ''";
        REQUIRE(std::system(cmd.c_str()) == 0);
        pool = std::make_unique<redis::Pool>(redis::Url::unix_socket_at(d + "/redis.sock"), 4);
        // Up, then all slots here, then the cluster says ok (bounded: 15 s).
        bool up = false;
        for (int i = 0; i < 150 && !(up = pool->ping()); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        REQUIRE(up);
        redis::Command slots("CLUSTER");
        slots << "ADDSLOTSRANGE" << "0" << "16383";
        REQUIRE(pool->run(slots).text() == "OK");
        bool ok = false;
        for (int i = 0; i < 150 && !ok; ++i) {
            redis::Command info("CLUSTER");
            info << "INFO";
            ok = pool->run(info).text().find("cluster_state:ok") != std::string::npos;
            if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        REQUIRE(ok);
    }
    ~ClusterRedis() {
        try {
            redis::Command stop("SHUTDOWN");
            stop << "NOSAVE";
            pool->run(stop);
        } catch (...) {
            // The connection closes as the server exits.
        }
    }
};

jobs::Job make_job(const std::string& jid, std::vector<std::string> targets) {
    jobs::Job j;
    j.jid = jid;
    j.operate = "ping";
    j.operate_args = "{}";
    j.targets = std::move(targets);
    j.plugin_kind = "executor";
    j.plugin_type = "test";
    j.plugin_op = "ping";
    j.created_ms = 1;
    return j;
}

}  // namespace

TEST_CASE("cluster: a job's whole life on a one-node Redis Cluster, no CROSSSLOT") {
    ClusterRedis r;
    jobs::Store store(*r.pool, 60);
    jobs::Locks locks(*r.pool);
    jobs::Queue queue(*r.pool);
    queue.ensure_group();
    // Submit: locks, record + index, queue.
    CHECK(locks.acquire({"h1", "h2"}, "c1", 60000).empty());
    CHECK(locks.acquire({"h2"}, "c2", 60000) == std::vector<std::string>{"h2"});
    for (auto jid : {"c1", "c2", "c3"}) {
        store.create(make_job(jid, {"h1", "h2"}));
        queue.push(jid);
    }
    CHECK(locks.renew_queued({{"c1", {"h1", "h2"}}, {"gone", {"h9"}}}, 60000) == std::vector<std::string>{"gone"});
    // A worker: first entry, claim, then settle with the next one claimed ahead.
    auto first = queue.next("w", 100);
    REQUIRE(first);
    CHECK(store.claim(*store.get("c1"), "w", 1, 60000).outcome == "ok");
    store.append_event("c1", "host", R"({"h1":{"status":0}})");
    auto s = store.settle(first->id, "c1", {"h1", "h2"},
                          jobs::Ending{jobs::Done, "done", "", {{"h1", R"({"status":0})"}}, {}}, "w", 2);
    CHECK(s.finished);
    REQUIRE(s.next);
    REQUIRE(s.next->job);
    CHECK(locks.holder("h1").empty());
    CHECK(locks.acquire({"h1", "h2"}, "c2", 60000).empty());  // c2 takes over its hosts
    jobs::ClaimRequest ahead{&*s.next->job, "w", 2, 60000, true};
    auto s2 = store.settle(s.next->entry.id, "none", {}, std::nullopt, "w", 1, &ahead);
    REQUIRE(s2.claimed);
    CHECK(s2.claimed->outcome == "ok");
    CHECK(store.get(s.next->entry.jid)->status == "running");
    // End it through finish, cancel the last one while queued.
    CHECK(store.finish(s.next->entry.jid, jobs::Failure, "failed", "x", {}, {"h1", "h2"}));
    store.request_cancel("c3");
    CHECK(store.cancel_requested("c3"));
    CHECK(store.finish("c3", jobs::Failure, "cancelled", "cancelled", {}, {"h1", "h2"}, "queued"));
    CHECK(store.returns("c1").at("h1") == R"({"status":0})");
    CHECK(store.events("c1", "0", 10).size() == 3);
    CHECK(store.events_of_many({{"c1", "0"}}, 10, 10).size() == 1);
    CHECK(store.count_crash("c1") == 1);
    // Listing, trim, remove; the queue's housekeeping.
    CHECK(store.list(2, "", true).jobs.size() == 2);
    CHECK(store.trim_index() == 0);
    CHECK(store.remove("c1"));
    CHECK(store.list(10, "", false).jobs.size() == 2);
    CHECK(locks.renew({"h1"}, "c3", 1000) == std::vector<std::string>{"h1"});
    locks.release({"h1", "h2"}, "c3");
    CHECK(queue.reclaim("w2", 0, 10).size() <= 1);
    queue.forget_idle_consumers(0, {});
    CHECK(queue.backlog() >= 0);
}
