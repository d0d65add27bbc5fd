// The Redis side of jobs against a real redis-server (exed's embedded one,
// started in a temp dir): records, events, index pagination, locks, queue.
#include "jobs/keys.hpp"
#include "jobs/locks.hpp"
#include "jobs/queue.hpp"
#include "jobs/script.hpp"
#include "jobs/store.hpp"
#include "redis/embedded.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <optional>
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
    CHECK(j->state() == jobs::Running);
    CHECK(store.status("j1") == "queued");
    CHECK(store.status("no-such-job").empty());
    CHECK(j->targets == std::vector<std::string>{"a", "b"});
    jobs::Locks locks(*f.pool);
    CHECK(store.claim(*j, "w1", 42, 60000).outcome == "ok");
    CHECK(locks.holder("a") == "j1");  // claim took the job's locks
    CHECK(locks.holder("b") == "j1");
    CHECK(store.get("j1")->status == "running");
    CHECK(store.get("j1")->worker == "w1");
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
    REQUIRE(ev.size() == 3);
    CHECK(ev[0].type == "state");  // "running", written by claim
    CHECK(ev[0].data == R"({"status":"running","worker":"w1"})");
    CHECK(ev[1].type == "host");
    CHECK(ev[2].type == "end");
    // Resume after the host event's id: only the end.
    auto rest = store.events("j1", ev[1].id, 100);
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].type == "end");
    // The finished job now has a TTL.
    redis::Command ttl("TTL");
    ttl << jobs::keys::job("j1");
    CHECK(f.pool->run(ttl).num() > 0);
    CHECK(store.claim(*j, "w2", 43, 60000).outcome == "done");
    CHECK(locks.holder("a").empty());  // a claim that fails takes nothing
    CHECK(store.claim(make_job("nope", 1), "w2", 43, 60000).outcome == "missing");
}

TEST_CASE("a cancel request stops a queued job from starting") {
    RedisFixture f;
    jobs::Store store(*f.pool, 60);
    store.create(make_job("c1", 1000));
    store.request_cancel("c1");
    CHECK(store.cancel_requested("c1"));
    jobs::Locks locks(*f.pool);
    CHECK(store.claim(*store.get("c1"), "w", 1, 60000).outcome == "cancel");
    CHECK(store.get("c1")->status == "queued");  // untouched: no start, no locks, no event
    CHECK(locks.holder("a").empty());
    CHECK(store.events("c1", "0", 10).empty());
    CHECK_FALSE(store.finish("c1", jobs::Failure, "cancelled", "cancelled", {}, {}, "running"));
    CHECK(store.finish("c1", jobs::Failure, "cancelled", "cancelled", {}, {}, "queued"));
    CHECK(store.get("c1")->status == "cancelled");
}

// INFO commandstats: calls of `command` ("evalsha", "hgetall"...) since the last reset.
long calls_of(redis::Pool& pool, const std::string& command) {
    redis::Command info("INFO");
    info << "commandstats";
    std::string text = pool.run(info).text();
    auto at = text.find("cmdstat_" + command + ":calls=");
    if (at == std::string::npos) return 0;
    return std::stol(text.substr(at + command.size() + 15));
}

TEST_CASE("claim: locks lost to another job while queued -> busy and nothing changes") {
    RedisFixture f;
    jobs::Store store(*f.pool, 60);
    jobs::Locks locks(*f.pool);
    store.create(make_job("l1", 1));  // on hosts a, b
    CHECK(locks.acquire({"a", "b"}, "l1", 100).empty());  // as at submit, short lease
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // it ran out while queued
    CHECK(locks.acquire({"b"}, "other", 60000).empty());          // and someone took b
    auto c = store.claim(*store.get("l1"), "w", 7, 60000);
    CHECK(c.outcome == "busy");
    CHECK(c.busy == std::vector<std::string>{"b"});
    CHECK(locks.holder("a").empty());  // all or none
    CHECK(locks.holder("b") == "other");
    auto j = store.get("l1");
    CHECK(j->status == "queued");
    CHECK(j->startat == 0);
    CHECK(store.events("l1", "0", 10).empty());
    // Expired but free again: claim takes the locks back, with a fresh lease.
    locks.release({"b"}, "other");
    CHECK(store.claim(*j, "w", 8, 60000).outcome == "ok");
    CHECK(locks.holder("a") == "l1");
    CHECK(locks.holder("b") == "l1");
    redis::Command lease("HGET"), time("TIME");
    lease << jobs::keys::locks << "a";
    std::string held = f.pool->run(lease).text();  // "<jid> <expiry ms>"
    auto now = f.pool->run(time);
    int64_t now_ms = now.items[0].num() * 1000 + now.items[1].num() / 1000;
    CHECK(std::stoll(held.substr(held.rfind(' ') + 1)) - now_ms > 50000);
    // A rerun (status running, e.g. a reclaimed read-only job) may claim again.
    CHECK(store.claim(*j, "w2", 9, 60000).outcome == "ok");
    CHECK(store.get("l1")->worker == "w2");
}

TEST_CASE("settle: end, ack and delete in one step, then the worker's next entry with its record") {
    RedisFixture f;
    jobs::Store store(*f.pool, 60);
    jobs::Queue q(*f.pool);
    jobs::Locks locks(*f.pool);
    q.ensure_group();
    store.create(make_job("s1", 1));  // hosts a, b
    auto j2 = make_job("s2", 2);
    j2.targets = {"c"};
    store.create(j2);
    for (auto jid : {"s1", "s2", "gone"}) q.push(jid);  // "gone" has no record
    auto e = q.next("w1", 1000);
    REQUIRE(e);
    REQUIRE(e->jid == "s1");
    auto j1 = store.get("s1");
    REQUIRE(store.claim(*j1, "w1", 5, 60000).outcome == "ok");
    CHECK(locks.acquire({"z"}, "someone", 60000).empty());

    auto s = store.settle(e->id, "s1", {"a", "b", "z"},
                          jobs::Ending{jobs::Done, "done", "", {{"a", R"({"status":0})"}}, {}}, "w1");
    CHECK(s.finished);
    CHECK(store.get("s1")->status == "done");
    CHECK(store.returns("s1").at("a") == R"({"status":0})");
    CHECK(locks.holder("a").empty());
    CHECK(locks.holder("b").empty());
    CHECK(locks.holder("z") == "someone");  // not the job's: kept
    auto ev = store.events("s1", "0", 10);
    REQUIRE(ev.size() == 2);
    CHECK(ev[1].type == "end");
    redis::Command xlen("XLEN");
    xlen << jobs::keys::queue;
    CHECK(f.pool->run(xlen).num() == 2);  // s1's entry deleted
    REQUIRE(s.next);
    CHECK(s.next->entry.jid == "s2");
    REQUIRE(s.next->job);
    CHECK(s.next->job->targets == std::vector<std::string>{"c"});
    CHECK(s.next->job->status == "queued");  // read, not claimed
    CHECK(q.reclaim("w2", 0, 10).size() == 1);  // pending: it was delivered (to w1, now w2)

    // Settling again does not end the job twice, nor take anything when not asked.
    auto again = store.settle(e->id, "s1", {}, jobs::Ending{jobs::Failure, "failed", "x", {}, {}});
    CHECK_FALSE(again.finished);
    CHECK_FALSE(again.next);
    CHECK(store.get("s1")->status == "done");
    CHECK(store.events("s1", "0", 10).size() == 2);

    // No end given: only ack + delete; the next entry has no record.
    auto s2 = store.settle(s.next->entry.id, "s2", {}, std::nullopt, "w1");
    CHECK_FALSE(s2.finished);
    CHECK(store.get("s2")->status == "queued");
    REQUIRE(s2.next);
    CHECK(s2.next->entry.jid == "gone");
    CHECK_FALSE(s2.next->job);
    // An end for a record that is gone creates nothing; the queue is empty now.
    auto s3 = store.settle(s2.next->entry.id, "gone", {}, jobs::Ending{jobs::Failure, "failed", "x", {}, {}},
                           "w1");
    CHECK_FALSE(s3.finished);
    CHECK_FALSE(s3.next);
    CHECK_FALSE(store.get("gone"));
    CHECK(f.pool->run(xlen).num() == 0);
    CHECK(q.reclaim("w3", 0, 10).empty());  // nothing left pending
}

TEST_CASE("scripts go by SHA (EVALSHA), and by EVAL again after Redis forgot them") {
    RedisFixture f;
    jobs::Script one("return 1");
    redis::Command load("SCRIPT");
    load << "LOAD" << one.body();  // "#!lua" and "return 1"
    CHECK(f.pool->run(load).text() == one.sha());  // the SHA Redis names it by

    jobs::Store store(*f.pool, 60);
    store.create(make_job("e1", 1));  // first use: NOSCRIPT, then EVAL
    redis::Command reset("CONFIG");
    reset << "RESETSTAT";
    f.pool->run(reset);
    store.create(make_job("e2", 1));
    CHECK(calls_of(*f.pool, "evalsha") == 1);
    CHECK(calls_of(*f.pool, "eval") == 0);  // the body was not sent again
    redis::Command flush("SCRIPT");
    flush << "FLUSH";
    f.pool->run(flush);  // as after a Redis restart
    store.create(make_job("e3", 1));
    CHECK(store.get("e3"));
    CHECK(calls_of(*f.pool, "eval") == 1);
    CHECK(store.list(10, "", false).jobs.size() == 3);
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
    jobs::Store(*f.pool, 60).settle(claimed[0].id, "q1", {}, std::nullopt);  // ack + delete
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    CHECK(q.reclaim("w3", 100, 10).empty());
}

TEST_CASE("queue: idle consumers without pending entries are forgotten, nothing else") {
    RedisFixture f;
    jobs::Queue q(*f.pool);
    q.ensure_group();
    auto create_consumer = [&](const std::string& name) {
        redis::Command c("XGROUP");
        c << "CREATECONSUMER" << jobs::keys::queue << jobs::keys::group << name;
        f.pool->run(c);
    };
    auto names = [&] {
        std::map<std::string, int64_t> out;  // name -> pending
        for (auto& c : q.consumers()) out[c.name] = c.pending;
        return out;
    };
    // Workers of a process that is gone: two with nothing pending, one that
    // died holding an entry (reclaim's business, not the sweep's).
    create_consumer("dead-w0");
    create_consumer("dead-w1");
    create_consumer("mine-w0");  // this process's own, idle as long
    q.push("held");
    REQUIRE(q.next("dead-w2", 100));
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    create_consumer("fresh-w0");  // seen just now
    // dead-w1 is in fact still waiting for work: forgetting it must not cost
    // it its next entry.
    std::optional<jobs::QueueEntry> waited;
    std::thread waiter([&] { waited = q.next("dead-w1", 5000); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(names().size() == 5);

    CHECK(q.forget_idle_consumers(60000, {"mine-w0"}).empty());  // not idle that long
    auto first = q.forget_idle_consumers(300, {"mine-w0"}, 1);   // at most 1 per call
    CHECK(first.size() == 1);
    auto rest = q.forget_idle_consumers(300, {"mine-w0"});
    std::set<std::string> gone(first.begin(), first.end());
    gone.insert(rest.begin(), rest.end());
    CHECK(gone == std::set<std::string>{"dead-w0", "dead-w1"});
    CHECK(names() == std::map<std::string, int64_t>{{"dead-w2", 1}, {"fresh-w0", 0}, {"mine-w0", 0}});
    CHECK(q.forget_idle_consumers(300, {"mine-w0"}).empty());

    q.push("next");
    waiter.join();
    REQUIRE(waited);
    CHECK(waited->jid == "next");
    CHECK(names().at("dead-w1") == 1);  // back, with its entry
    auto reclaimed = q.reclaim("rescuer", 0, 10);  // the dead worker's entry is still there
    std::set<std::string> jids;
    for (auto& e : reclaimed) jids.insert(e.jid);
    CHECK(jids.count("held") == 1);
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

TEST_CASE("a job's status is stored once: EXEd's state number is derived from it") {
    jobs::Job j;
    j.jid = "state-from-status";
    CHECK(j.to_fields().count("state") == 0);  // only "status" says how it goes
    const std::vector<std::pair<std::string, int>> numbers = {
        {jobs::status::queued, 1}, {jobs::status::running, 1}, {jobs::status::done, 0},
        {jobs::status::failed, 2}, {jobs::status::cancelled, 2}};
    for (auto& [status, number] : numbers) {
        CAPTURE(status);
        j.status = status;
        CHECK(j.state() == number);
        CHECK(jobs::Job::from_fields(j.to_fields()).state() == number);
        bool final = std::find(jobs::status::final_list.begin(), jobs::status::final_list.end(), status) !=
                     jobs::status::final_list.end();
        CHECK(jobs::status::terminal(status) == final);
        CHECK(final == (number != 1));
    }
}
