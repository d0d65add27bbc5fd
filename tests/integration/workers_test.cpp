// Standalone workers and crashes: `exed worker` processes sharing one real
// redis-server with an API-only exed; kill -9 mid-job; Redis restarts.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"
#include "support/procs.hpp"
#include "jobs/keys.hpp"
#include "jobs/locks.hpp"
#include "jobs/queue.hpp"
#include "jobs/signature.hpp"
#include "jobs/store.hpp"
#include "plugins/in_process_client.hpp"
#include "plugins/registry.hpp"
#include "runner/runner.hpp"

#include <Poco/Environment.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <doctest/doctest.h>

#include <thread>

#include <signal.h>

using namespace exed::test;

namespace {

std::string status_of(int port, const std::string& jid) {
    auto r = http("GET", port, "/jobs/" + jid);
    return r.status == 200 ? r.object()->getValue<std::string>("status") : "http " + std::to_string(r.status);
}

std::string wait_status(int port, const std::string& jid, const std::string& want, int seconds) {
    std::string st;
    for (int i = 0; i < seconds * 10; ++i) {
        st = status_of(port, jid);
        if (("," + want + ",").find("," + st + ",") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return st;
}

std::string submit(int port, const std::string& op, const std::string& body) {
    auto r = http("POST", port, "/" + op, body);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return r.object()->getValue<std::string>("jid");
}

void kill_all(const std::string& cmdline) {
    // Orphans of a kill -9'd worker: clean them up so they outlive no test.
    for (int i = 0; i < 3 && count_processes(cmdline) > 0; ++i) {
        std::string cmd = "pkill -f -x '" + cmdline + "'";
        if (std::system(cmd.c_str()) != 0) break;
    }
}

// The commands clients send to Redis, by name, seen through MONITOR: round
// trips, not what scripts run inside (INFO commandstats counts both).
class RoundTrips {
public:
    explicit RoundTrips(const std::string& socket_path) {
        sock_.connect(Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, socket_path));
        sock_.sendBytes("MONITOR\r\n", 9);
        sock_.setReceiveTimeout(Poco::Timespan(0, 100000));
        reader_ = std::thread([this] { read(); });
    }
    ~RoundTrips() {
        stop_ = true;
        reader_.join();
    }
    std::map<std::string, int> counts() {
        std::lock_guard<std::mutex> l(mutex_);
        return counts_;
    }

private:
    void read() {
        std::string buf;
        char chunk[65536];
        while (!stop_) {
            int n = 0;
            try {
                n = sock_.receiveBytes(chunk, sizeof chunk);
            } catch (const Poco::TimeoutException&) {
                continue;
            }
            if (n <= 0) break;
            buf.append(chunk, size_t(n));
            for (size_t nl; (nl = buf.find("\r\n")) != std::string::npos; buf.erase(0, nl + 2)) {
                // +1700000000.123456 [0 unix:/path/redis.sock] "XADD" "key" ...
                std::string line = buf.substr(0, nl);
                auto client = line.find(" [");
                if (client == std::string::npos || line.compare(client, 7, " [0 lua") == 0) continue;
                auto a = line.find('"', client), b = line.find('"', a + 1);
                if (a == std::string::npos || b == std::string::npos) continue;
                std::lock_guard<std::mutex> l(mutex_);
                ++counts_[line.substr(a + 1, b - a - 1)];
            }
        }
    }

    Poco::Net::StreamSocket sock_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::map<std::string, int> counts_;
    std::thread reader_;
};

// A job of the test executor on node1 written straight into Redis and
// queued, as an API process would (signed with `secret` unless empty).
exed::jobs::Job queue_job(exed::jobs::Store& store, exed::jobs::Queue& queue, const std::string& jid,
                          const std::string& op, const std::string& args, const std::string& secret) {
    exed::jobs::Job j;
    j.jid = jid;
    j.operate = op;
    j.operate_args = args;
    j.targets = {"node1"};
    j.plugin_kind = "executor";
    j.plugin_type = "test";
    j.plugin_op = op;
    j.created_ms = 1;
    j.run_timeout = 60;
    if (!secret.empty()) j.signature = exed::jobs::sign(secret, j);
    store.create(j);
    queue.push(jid);
    return j;
}

// An executor client whose call throws, as anything under the call may
// (the client, the hooks, a resume document); the rest answers as a
// plugin that is loaded.
class ThrowingClient : public exed::plugins::ExecutorClient {
public:
    bool available(const exed::plugins::PluginRef&) const override { return true; }
    bool implements(const exed::plugins::PluginRef&, const std::string&) const override { return false; }
    exed::plugins::Prepared prepare(const exed::plugins::PrepareRequest&) override { return {}; }
    exed::plugins::OpResult run(const exed::plugins::PluginRef&, const std::string&, const std::string&,
                                exed::plugins::CallHooks&) override {
        ++calls;
        throw std::runtime_error("the client broke mid-call");
    }
    exed::plugins::PluginRef executor() const override { return {"executor", "test"}; }
    exed::plugins::OpResult health() override { return {}; }
    std::atomic<int> calls{0};
};

}  // namespace

TEST_CASE("a worker draining a backlog makes at most 2 Redis round trips per job") {
    // Per job, while the queue has work: one settle (end of the previous
    // job with its deferred host event, claim of the job taken ahead, take
    // of the next) in two round trips of pipelined steps, one slot each
    // (issue 25: a Redis Cluster runs no script across slots); 3 before the
    // fused settle, 9 before the claim/settle scripts. A round trip is one
    // read by Redis (INFO total_reads_processed: a pipeline arrives in one),
    // so commands are no longer the measure: MONITOR only details them.
    // lease = 300 keeps lease renewal out of the count.
    const int n = 50;
    SharedRedis redis;
    std::string hosts = "[test]\nhosts = node1";
    for (int i = 0; i < n; ++i) hosts += ",q" + std::to_string(i);
    ExedProcess api(test_config(redis.url(), "[runner]\nconcurrency = 0\nlease = 300\n" + hosts + "\n"));
    ExedProcess worker(test_config(redis.url(), "[runner]\nlease = 300\n" + hosts + "\n"));
    api.start();
    std::vector<std::string> jids;
    for (int i = 0; i < n; ++i)
        jids.push_back(submit(api.port(), "ping", R"({"targets":["q)" + std::to_string(i) + R"("]})"));
    auto pool = redis.pool();
    exed::redis::Command xlen("XLEN");
    xlen << exed::jobs::keys::queue;
    REQUIRE(pool->run(xlen).num() == n);
    auto reads = [&] {
        exed::redis::Command info("INFO");
        info << "stats";
        std::string text = pool->run(info).text();
        const std::string field = "total_reads_processed:";
        auto at = text.find(field);
        REQUIRE(at != std::string::npos);
        return std::stoll(text.substr(at + field.size()));
    };
    std::map<std::string, int> counts;
    int64_t trips_seen = 0;
    {
        RoundTrips trips(redis.dir.path() + "/redis.sock");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // MONITOR is on
        int64_t before = reads();
        int polls = 0;
        worker.start(true);
        for (int i = 0; i < 300 && (++polls, pool->run(xlen).num() > 0); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        trips_seen = reads() - before - polls - 1;  // less this test's own XLENs and INFO
        counts = trips.counts();
    }
    CHECK(pool->run(xlen).num() == 0);
    for (auto& jid : jids) CHECK(status_of(api.port(), jid) == "done");
    counts.erase("XLEN");  // this test's polling
    counts.erase("MONITOR");
    int total = 0;
    std::string detail;
    for (auto& [cmd, c] : counts) {
        total += c;
        detail += cmd + "=" + std::to_string(c) + " ";
    }
    MESSAGE("worker round trips for " << n << " jobs: " << trips_seen << "; commands: " << total << " ("
                                      << detail << ")");
    // Plus a fixed start-up: group creation, the first blocking read and
    // record, the first claim on its own, each script's first run (NOSCRIPT,
    // then EVAL: 9 here), idle reads at the end (122 measured for 50 jobs;
    // the same steps sent one by one would be ~7 per job).
    CHECK(trips_seen <= 2 * n + 30);
}

TEST_CASE("a standalone worker runs the jobs of an API-only exed") {
    SharedRedis redis;
    ExedProcess api(test_config(redis.url(), "[runner]\nconcurrency = 0\n"));
    ExedProcess worker(test_config(redis.url()));
    api.start();
    std::string jid = submit(api.port(), "ping", R"({"targets":["node1"]})");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(status_of(api.port(), jid) == "queued");  // nobody to run it yet
    worker.start(true);
    CHECK(wait_status(api.port(), jid, "done", 15) == "done");
    auto job = http("GET", api.port(), "/jobs/" + jid).object();
    CHECK(job->getValue<std::string>("status") == "done");
    CHECK(worker.log().find(jid) != std::string::npos);  // the worker ran it
}

TEST_CASE("kill -9 of a worker mid-job: the job is reclaimed, failed, and its locks freed") {
    SharedRedis redis;
    ExedProcess api(test_config(redis.url(), "[runner]\nconcurrency = 0\n"));
    ExedProcess worker1(test_config(redis.url()));
    ExedProcess worker2(test_config(redis.url()));
    api.start();
    worker1.start(true);
    std::string jid = submit(api.port(), "execute", R"({"targets":["node1"],"cmd":"sleep 60.125"})");
    REQUIRE(wait_status(api.port(), jid, "running", 15) == "running");
    worker1.kill9();
    CHECK(http("GET", api.port(), "/ping?target=node1").status == 409);  // still leased
    worker2.start(true);
    // lease = 3 s: reclaimed within a few seconds, never Running forever.
    CHECK(wait_status(api.port(), jid, "failed", 20) == "failed");
    auto job = http("GET", api.port(), "/jobs/" + jid).object();
    CHECK(job->getValue<int>("state") == 2);
    CHECK(job->getValue<std::string>("error").find("was lost while running the job") != std::string::npos);
    auto r = http("POST", api.port(), "/ping", R"({"targets":["node1"]})");
    CHECK(r.status == 201);  // the lock did not outlive its lease
    kill_all("sleep 60.125");
}

TEST_CASE("kill -9 of a worker mid-ping: the read-only job is rerun to completion") {
    SharedRedis redis;
    std::string slow = "[test]\nping_delay_ms = 4000\n";
    ExedProcess api(test_config(redis.url(), "[runner]\nconcurrency = 0\n"));
    ExedProcess worker1(test_config(redis.url(), slow));
    ExedProcess worker2(test_config(redis.url(), slow));
    api.start();
    worker1.start(true);
    std::string jid = submit(api.port(), "ping", R"({"targets":["node2"]})");
    REQUIRE(wait_status(api.port(), jid, "running", 15) == "running");
    worker1.kill9();
    worker2.start(true);
    CHECK(wait_status(api.port(), jid, "done", 30) == "done");
    CHECK(worker2.log().find("rerunning read-only job") != std::string::npos);
}

TEST_CASE("Redis going away: 503 while down, nothing lost, service resumes") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url()));
    exed.start();
    std::string before = submit(exed.port(), "ping", R"({"targets":["node1"]})");
    REQUIRE(wait_status(exed.port(), before, "done", 10) == "done");
    // A job that is still running when Redis goes down.
    std::string during = submit(exed.port(), "execute", R"({"targets":["node2"],"cmd":"sleep 2"})");
    REQUIRE(wait_status(exed.port(), during, "running", 10) == "running");
    redis.stop();
    auto r = http("GET", exed.port(), "/jobs");
    CHECK(r.status == 503);
    CHECK(r.message().find("unavailable") != std::string::npos);
    CHECK(http("POST", exed.port(), "/ping", R"({"targets":["node1"]})").status == 503);
    CHECK(http("GET", exed.port(), "/health").status == 503);
    std::this_thread::sleep_for(std::chrono::seconds(3));  // the job ends while Redis is down
    CHECK(exed.alive());
    redis.restart();
    CHECK(wait_status(exed.port(), before, "done", 10) == "done");   // kept across the restart
    CHECK(wait_status(exed.port(), during, "done", 30) == "done");   // its end was not lost
    std::string after = submit(exed.port(), "ping", R"({"targets":["node3"]})");
    CHECK(wait_status(exed.port(), after, "done", 10) == "done");
}

TEST_CASE("a job written straight into Redis, unsigned or signed with another secret, is refused") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url()));
    exed.start();
    auto pool = redis.pool();
    exed::jobs::Store store(*pool, 3600);
    exed::jobs::Queue queue(*pool);
    auto forge = [&](const std::string& jid, const std::string& secret) {
        queue_job(store, queue, jid, "execute", R"({"cmd":"touch /tmp/exed-forged"})", secret);
    };
    std::remove("/tmp/exed-forged");
    forge("forged-unsigned", "");
    forge("forged-other-key", "not-the-shared-secret");
    for (const char* jid : {"forged-unsigned", "forged-other-key"}) {
        CAPTURE(jid);
        CHECK(wait_status(exed.port(), jid, "failed,done", 10) == "failed");
        auto job = http("GET", exed.port(), std::string("/jobs/") + jid).object();
        CHECK(job->getValue<std::string>("error").find("signature does not match") != std::string::npos);
    }
    CHECK_FALSE(std::ifstream("/tmp/exed-forged").good());  // nothing ran
    // A job signed with the shared secret runs as usual.
    forge("signed-right", "shared-by-this-test");
    CHECK(wait_status(exed.port(), "signed-right", "failed,done", 10) == "done");
    std::remove("/tmp/exed-forged");
}

TEST_CASE("the consumer sweep forgets stopped workers' consumers, not pending, own or live ones") {
    // lease = 300 everywhere: no process reclaims the crashed worker's entry
    // or sweeps on its own while the test runs; the test runs the sweep.
    SharedRedis redis;
    auto pool = redis.pool();
    exed::jobs::Queue queue(*pool);
    const std::string lease = "[runner]\nlease = 300\n";
    auto prefix = [](const ExedProcess& p) {  // as exed names its consumers
        return Poco::Environment::nodeName() + "-" + std::to_string(p.pid());
    };
    auto consumers = [&] {
        std::map<std::string, int64_t> out;  // name -> pending
        for (auto& c : queue.consumers()) out[c.name] = c.pending;
        return out;
    };
    ExedProcess api(test_config(redis.url(), lease + "concurrency = 0\n"));
    api.start();
    // A worker process that ran jobs and was stopped: its consumers stay.
    ExedProcess stopped(test_config(redis.url(), lease + "[test]\nping_delay_ms = 300\n"));
    stopped.start(true);
    std::string stopped_prefix = prefix(stopped);
    auto j1 = submit(api.port(), "ping", R"({"targets":["node1"]})");
    auto j2 = submit(api.port(), "ping", R"({"targets":["node2"]})");
    REQUIRE(wait_status(api.port(), j1, "done", 15) == "done");
    REQUIRE(wait_status(api.port(), j2, "done", 15) == "done");
    stopped.stop();
    // A worker killed mid-job: its consumer holds the entry until a reclaim.
    ExedProcess crashed(test_config(redis.url(), lease + "concurrency = 1\n[test]\nping_delay_ms = 60000\n"));
    crashed.start(true);
    std::string crashed_consumer = prefix(crashed) + "-w0";
    auto j3 = submit(api.port(), "ping", R"({"targets":["node3"]})");
    REQUIRE(wait_status(api.port(), j3, "running", 15) == "running");
    crashed.kill9();
    // This process's own worker, idle as long as the dead ones (a consumer
    // exists once it was given an entry; made directly here).
    exed::redis::Command create("XGROUP");
    create << "CREATECONSUMER" << exed::jobs::keys::queue << exed::jobs::keys::group << "mine-w0";
    pool->run(create);
    auto before = consumers();
    int stale = 0;
    for (auto& [name, pending] : before) {
        if (name.rfind(stopped_prefix + "-", 0) == 0) {
            CHECK(pending == 0);
            ++stale;
        }
    }
    REQUIRE(stale >= 1);
    REQUIRE(before.count(crashed_consumer) == 1);
    CHECK(before.at(crashed_consumer) == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // all of them idle > 1.5 s

    // A live worker of another process, that ran a job just now.
    ExedProcess live(test_config(redis.url(), lease + "concurrency = 1\n"));
    live.start(true);
    REQUIRE(http("GET", api.port(), "/ping?target=web1").status == 200);
    exed::Settings settings;
    settings.lease = 300;
    exed::plugins::Registry registry;
    exed::plugins::InProcessClient client(registry, settings.executor);
    exed::jobs::Store store(*pool, 3600);
    exed::jobs::Locks locks(*pool);
    exed::jobs::QueuedLeases queued;
    exed::runner::WorkerPool mine(settings, client, store, locks, queue, queued, "mine");
    mine.start(1);
    int removed = mine.sweep_consumers(1500);
    auto after = consumers();
    mine.stop();
    CHECK(removed == stale);
    CHECK(after == std::map<std::string, int64_t>{
                       {crashed_consumer, 1}, {prefix(live) + "-w0", 0}, {"mine-w0", 0}});
    CHECK(mine.sweep_consumers(1500) == 0);  // nothing more to do
    CHECK(exed::runner::stale_consumer_ms(3) == 600000);  // never under 10 minutes
    CHECK(exed::runner::stale_consumer_ms(300) == 3000000);
}

TEST_CASE("a plugin call that throws fails its job with the reason: nothing is left running") {
    // Before, the exception left the worker's loop with the job still in the
    // pool's running set: heartbeated, "running" for ever, its hosts locked.
    SharedRedis redis;
    TempDir run;
    auto pool = redis.pool();
    exed::Settings settings;
    settings.lease = 3;
    settings.run_dir = run.path();
    settings.job_secret = "shared-by-this-test";
    exed::jobs::Store store(*pool, 3600);
    exed::jobs::Queue queue(*pool);
    exed::jobs::Locks locks(*pool);
    exed::jobs::QueuedLeases queued;
    queue.ensure_group();  // as exed does at start
    auto j = queue_job(store, queue, "throws-mid-call", "ping", R"({"targets":["node1"]})", settings.job_secret);
    ThrowingClient client;
    exed::runner::WorkerPool workers(settings, client, store, locks, queue, queued, "throwing");
    workers.start(1);
    std::optional<exed::jobs::Job> got;
    for (int i = 0; i < 150; ++i) {  // 15 s: it ends at once, or never
        got = store.get(j.jid);
        if (got && exed::jobs::status::terminal(got->status)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    workers.stop();
    REQUIRE(got);
    CHECK(got->status == exed::jobs::status::failed);
    CHECK(got->error.find("the client broke mid-call") != std::string::npos);
    CHECK(client.calls == 1);
    CHECK(locks.holder("node1").empty());
    for (auto& c : queue.consumers()) CHECK(c.pending == 0);  // acked, not left to a reclaim
}
