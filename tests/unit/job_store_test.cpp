// The Redis side of jobs against a real redis-server (exed's embedded one,
// started in a temp dir): records, events, index pagination, locks, queue.
#include "jobs/keys.hpp"
#include "jobs/locks.hpp"
#include "jobs/queue.hpp"
#include "jobs/store.hpp"
#include "redis/embedded.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <set>
#include <thread>

using namespace exed;

namespace {

struct RedisFixture {
    test::TempDir dir;
    redis::EmbeddedServer server{dir.path()};
    std::unique_ptr<redis::Pool> pool;
    RedisFixture() {
        server.start();
        pool = std::make_unique<redis::Pool>(redis::Url::unix_socket_at(server.socket_path()), 8);
    }
};

jobs::Job make_job(const std::string& jid, int64_t created_ms) {
    jobs::Job j;
    j.jid = jid;
    j.operate = "ping";
    j.operate_args = "{}";
    j.targets = {"a", "b"};
    j.plugin_kind = "executor";
    j.plugin_type = "test";
    j.plugin_op = "ping";
    j.created_ms = created_ms;
    return j;
}

}  // namespace

TEST_CASE("a job goes queued -> running -> done once, with its events") {
    RedisFixture f;
    jobs::Store store(*f.pool, 60);
    store.create(make_job("j1", 1000));
    auto j = store.get("j1");
    REQUIRE(j);
    CHECK(j->status == "queued");
    CHECK(j->state == jobs::Running);
    CHECK(store.status("j1") == "queued");
    CHECK(store.status("no-such-job").empty());
    CHECK(j->targets == std::vector<std::string>{"a", "b"});
    CHECK(store.start("j1", "w1", 42) == "ok");
    jobs::Locks locks(*f.pool);
    CHECK(locks.acquire({"a", "b"}, "j1", 60000).empty());
    CHECK(locks.acquire({"c"}, "other", 60000).empty());
    store.append_event("j1", "host", R"({"a":{"status":0}})");
    CHECK(store.finish("j1", jobs::Done, "done", "", {{"a", R"({"status":0})"}}, {"a", "b", "c"}));
    // The job's locks went with its end, in the same step; others' stayed.
    CHECK(locks.holder("a").empty());
    CHECK(locks.holder("b").empty());
    CHECK(locks.holder("c") == "other");
    CHECK_FALSE(store.finish("j1", jobs::Failure, "failed", "again", {}, {}));  // only once
    j = store.get("j1");
    CHECK(j->status == "done");
    CHECK(j->startat == 42);
    CHECK(store.returns("j1").at("a") == R"({"status":0})");
    auto ev = store.events("j1", "0", 100);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].type == "host");
    CHECK(ev[1].type == "end");
    // Resume after the first event id: only the end.
    auto rest = store.events("j1", ev[0].id, 100);
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].type == "end");
    // The finished job now has a TTL.
    redis::Command ttl("TTL");
    ttl << jobs::keys::job("j1");
    CHECK(f.pool->run(ttl).num() > 0);
    CHECK(store.start("j1", "w2", 43) == "done");
    CHECK(store.start("nope", "w2", 43) == "missing");
}

TEST_CASE("a cancel request stops a queued job from starting") {
    RedisFixture f;
    jobs::Store store(*f.pool, 60);
    store.create(make_job("c1", 1000));
    store.request_cancel("c1");
    CHECK(store.cancel_requested("c1"));
    CHECK(store.start("c1", "w", 1) == "cancel");
    CHECK_FALSE(store.finish("c1", jobs::Failure, "cancelled", "cancelled", {}, {}, "running"));
    CHECK(store.finish("c1", jobs::Failure, "cancelled", "cancelled", {}, {}, "queued"));
    CHECK(store.get("c1")->status == "cancelled");
}

TEST_CASE("blocking event reads wake up when an event arrives") {
    RedisFixture f;
    jobs::Store store(*f.pool, 60);
    store.create(make_job("b1", 1000));
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        store.append_event("b1", "host", "{}");
    });
    auto ev = store.events("b1", "0", 10, 5000);
    writer.join();
    REQUIRE(ev.size() == 1);
    CHECK(store.events("b1", ev[0].id, 10, 100).empty());  // times out empty
}

TEST_CASE("listing pages through 10k jobs newest first without gaps or repeats") {
    RedisFixture f;
    jobs::Store store(*f.pool, 60);
    // Many jobs in the same millisecond must still page exactly.
    for (int i = 0; i < 10000; ++i) store.create(make_job("p" + std::to_string(i), 5000 + i / 7));
    std::set<std::string> seen;
    std::string cursor, previous_first;
    int pages = 0;
    do {
        auto page = store.list(500, cursor, pages == 0);
        if (pages == 0) CHECK(page.jobs.front().operate == "ping");  // details on
        for (auto& j : page.jobs) CHECK(seen.insert(j.jid).second);
        cursor = page.next_cursor;
        ++pages;
    } while (!cursor.empty() && pages < 100);
    CHECK(seen.size() == 10000);
    CHECK(pages == 20);
    auto first = store.list(1, "", false);
    CHECK(first.jobs.at(0).jid == "p9999");  // newest first
    // A deleted job disappears from the listing.
    CHECK(store.remove("p9999"));
    CHECK_FALSE(store.remove("p9999"));
    CHECK(store.list(1, "", false).jobs.at(0).jid != "p9999");
}

TEST_CASE("locks: all hosts or none, renew, compare-and-delete release, lease expiry") {
    RedisFixture f;
    jobs::Locks locks(*f.pool);
    CHECK(locks.acquire({"h1", "h2"}, "A", 10000).empty());
    CHECK(locks.acquire({"h1", "h2"}, "A", 10000).empty());  // re-entrant for the holder
    auto busy = locks.acquire({"h3", "h2"}, "B", 10000);
    CHECK(busy == std::vector<std::string>{"h2"});
    CHECK(locks.holder("h3").empty());  // none taken when one is busy
    locks.release({"h1", "h2"}, "B");    // not B's: nothing happens
    CHECK(locks.holder("h1") == "A");
    CHECK(locks.renew({"h1", "h2", "h3"}, "A", 10000) == std::vector<std::string>{"h3"});
    locks.release({"h1", "h2"}, "A");
    CHECK(locks.holder("h1").empty());
    CHECK(locks.acquire({"h9"}, "C", 100).empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    CHECK(locks.holder("h9").empty());  // the lease ran out
}

TEST_CASE("locks: concurrent acquirers on overlapping hosts never both win") {
    RedisFixture f;
    jobs::Locks locks(*f.pool);
    for (int round = 0; round < 50; ++round) {
        std::string r = std::to_string(round);
        std::atomic<int> winners{0};
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; ++t)
            ts.emplace_back([&, t] {
                if (locks.acquire({"x" + r, "y" + r}, "J" + std::to_string(t), 10000).empty())
                    ++winners;
            });
        for (auto& t : ts) t.join();
        CHECK(winners == 1);
    }
}

TEST_CASE("queue: delivery to one consumer, ack, and reclaim after the lease") {
    RedisFixture f;
    jobs::Queue q(*f.pool);
    q.ensure_group();
    q.ensure_group();  // idempotent
    q.push("q1");
    auto e = q.next("w1", 1000);
    REQUIRE(e);
    CHECK(e->jid == "q1");
    CHECK_FALSE(q.next("w2", 100));  // not delivered twice
    // w1 "dies": after min-idle the entry can be claimed by w2.
    CHECK(q.reclaim("w2", 60000, 10).empty());  // not idle long enough
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    q.heartbeat("w1", e->id);  // a heartbeat resets the idle time
    CHECK(q.reclaim("w2", 100, 10).empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    auto claimed = q.reclaim("w2", 100, 10);
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].jid == "q1");
    q.done(claimed[0].id);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    CHECK(q.reclaim("w3", 100, 10).empty());
}

TEST_CASE("an embedded redis keeps jobs across a restart (AOF)") {
    test::TempDir dir;
    auto open_store = [&](redis::EmbeddedServer& s) {
        s.start();
        return std::make_unique<redis::Pool>(redis::Url::unix_socket_at(s.socket_path()), 2);
    };
    {
        redis::EmbeddedServer s(dir.path());
        auto pool = open_store(s);
        jobs::Store(*pool, 60).create(make_job("kept", 1));
    }
    redis::EmbeddedServer s(dir.path());
    auto pool = open_store(s);
    CHECK(jobs::Store(*pool, 60).get("kept"));
}

TEST_CASE("expired records leave the index when it is trimmed") {
    RedisFixture f;
    jobs::Store store(*f.pool, 1);
    for (int i = 0; i < 3; ++i) {
        store.create(make_job("t" + std::to_string(i), 1));
        store.finish("t" + std::to_string(i), jobs::Done, "done", "", {}, {});
    }
    store.create(make_job("alive", 2));
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    CHECK(store.trim_index() == 3);
    CHECK(store.trim_index() == 0);
    auto page = store.list(10, "", false);
    REQUIRE(page.jobs.size() == 1);
    CHECK(page.jobs[0].jid == "alive");
}
