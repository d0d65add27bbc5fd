// The Ansible executor against real hosts: three sshd on 127.0.0.11-13,
// each in its own mount namespace, reached by real ansible over ssh.
#include "integration/ansible_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <signal.h>

namespace fs = std::filesystem;
using namespace exed::test;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kAll = R"(["node1","node2","node3"])";

bool process_gone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }
bool group_gone(pid_t pgid) { return kill(-pgid, 0) != 0 && errno == ESRCH; }

std::string execute_args(const std::string& targets, const std::string& argv_json) {
    return R"({"targets":)" + targets + R"(,"argv":)" + argv_json + "}";
}

}  // namespace

TEST_CASE("ping: every host answers - a stopped sshd is unreachable - then back") {
    SshHosts& hosts = test_hosts();
    AnsiblePlugin p(hosts_config());
    RecordingHooks hooks;
    auto r = p.run("ping", R"({"targets":)" + kAll + "}", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    for (auto h : {"node1", "node2", "node3"}) CHECK(res->getObject(h)->getValue<int>("status") == 0);
    auto order = event_hosts(hooks.snapshot());
    std::sort(order.begin(), order.end());
    CHECK(order == std::vector<std::string>{"node1", "node2", "node3"});

    hosts.stop(1);
    RecordingHooks down;
    r = p.run("ping", R"({"targets":)" + kAll + "}", down);
    hosts.start(1);
    REQUIRE_MESSAGE(r.ok(), r.error);
    res = obj(r.result);
    CHECK(res->getObject("node1")->getValue<int>("status") == 0);
    CHECK(res->getObject("node3")->getValue<int>("status") == 0);
    auto node2 = res->getObject("node2");
    CHECK(node2->getValue<int>("status") == 3);
    CHECK(node2->getValue<std::string>("error").find("127.0.0.12") != std::string::npos);
    CHECK(!node2->getValue<std::string>("stderr").empty());
    CHECK(down.snapshot().size() == 3);

    RecordingHooks again;
    r = p.run("ping", R"({"targets":["node2"]})", again);
    REQUIRE(r.ok());
    CHECK(obj(r.result)->getObject("node2")->getValue<int>("status") == 0);
}

TEST_CASE("execute: cmd runs without a shell - each host has its own files - rtc != 0 fails") {
    SshHosts& hosts = test_hosts();
    AnsiblePlugin p(hosts_config());
    fs::remove(hosts.srv_dir(0) + "/marker");
    RecordingHooks hooks;
    auto r = p.run("execute", execute_args(R"(["node1"])", R"(["sh","-c","echo one > /srv/marker"])"), hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(slurp(hosts.srv_dir(0) + "/marker") == "one\n");

    r = p.run("execute", R"({"targets":)" + kAll + R"(,"cmd":"cat /srv/marker"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    auto n1 = res->getObject("node1");
    CHECK(n1->getValue<int>("status") == 4);
    CHECK(n1->getValue<int>("rtc") == 0);
    CHECK(n1->getValue<std::string>("stdout") == "one\n");
    for (auto h : {"node2", "node3"}) {
        auto b = res->getObject(h);
        CHECK(b->getValue<int>("status") == 2);
        CHECK(b->getValue<int>("rtc") == 1);
        CHECK(b->getValue<std::string>("stderr").find("No such file") != std::string::npos);
    }
    // No shell: ";", "$HOME" and quotes are split shell-like, never run.
    r = p.run("execute", R"({"targets":["node2"],"cmd":"echo $HOME 'a  b' ; ls"})", hooks);
    REQUIRE(r.ok());
    CHECK(obj(r.result)->getObject("node2")->getValue<std::string>("stdout") == "$HOME a  b ; ls\n");
    // A program that does not exist is a failed command, not a crash.
    r = p.run("execute", R"({"targets":["node3"],"cmd":"/no/such/program"})", hooks);
    REQUIRE(r.ok());
    CHECK(obj(r.result)->getObject("node3")->getValue<int>("rtc") == 127);
}

TEST_CASE("execute: argv is passed exactly and output comes back byte for byte") {
    AnsiblePlugin p(hosts_config());
    const std::string tricky =
        "h\xC3\xA9llo \"double\" 'single' \\back\\slash {{ lookup('pipe','id') }} $HOME ~ "
        "\xF0\x9F\x98\x80\ttab\n\n";
    Array argv;
    for (auto a : {"sh", "-c", "printf '%s' \"$1\"; printf 'to stderr\\n' >&2; exit 3", "sh"})
        argv.add(std::string(a));
    argv.add(tricky);
    std::ostringstream argv_json;
    Poco::JSON::Stringifier::condense(argv, argv_json);
    RecordingHooks hooks;
    auto r = p.run("execute", execute_args(kAll, argv_json.str()), hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    for (auto h : {"node1", "node2", "node3"}) {
        auto b = res->getObject(h);
        CHECK(b->getValue<std::string>("stdout") == tricky);
        CHECK(b->getValue<std::string>("stderr") == "to stderr\n");
        CHECK(b->getValue<int>("rtc") == 3);
        CHECK(b->getValue<int>("status") == 2);
    }
    // The events carry the same bodies as the result.
    auto events = hooks.snapshot();
    REQUIRE(events.size() == 3);
    for (auto& e : events) {
        auto ev = obj(e);
        std::vector<std::string> names;
        ev->getNames(names);
        CHECK(ev->getObject(names[0])->getValue<std::string>("stdout") == tricky);
    }
}

TEST_CASE("events arrive per host as each finishes - before a slow host is done") {
    SshHosts& hosts = test_hosts();
    AnsiblePlugin p(hosts_config());
    std::ofstream(hosts.srv_dir(2) + "/slow") << "1";
    RecordingHooks hooks;
    std::atomic<bool> done{false};
    exed::plugins::OpResult r;
    std::thread t([&] {
        r = p.run("execute",
                  execute_args(kAll, R"(["sh","-c","[ -e /srv/slow ] && sleep 8; echo done"])"),
                  hooks);
        done = true;
    });
    bool two_early = wait_until([&] { return hooks.snapshot().size() >= 2; }, 60);
    bool finished_then = done.load();
    auto early = event_hosts(hooks.snapshot());
    t.join();
    fs::remove(hosts.srv_dir(2) + "/slow");
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(two_early);
    CHECK_FALSE(finished_then);
    CHECK(std::find(early.begin(), early.end(), "node3") == early.end());
    auto order = event_hosts(hooks.snapshot());
    REQUIRE(order.size() == 3);
    CHECK(order[2] == "node3");
}

TEST_CASE("cancel kills ansible's process group and the remote command") {
    SshHosts& hosts = test_hosts();
    AnsiblePlugin p(hosts_config());
    std::string pid_file = hosts.srv_dir(0) + "/sleep.pid";
    fs::remove(pid_file);
    RecordingHooks hooks;
    exed::plugins::OpResult r;
    auto started = Clock::now();
    std::thread t([&] {
        r = p.run("execute",
                  execute_args(R"(["node1"])", R"(["sh","-c","echo $$ > /srv/sleep.pid; exec sleep 300"])"),
                  hooks);
    });
    bool remote_started = wait_until([&] { return fs::exists(pid_file) && fs::file_size(pid_file) > 0; }, 60);
    pid_t group = 0;
    {
        std::lock_guard<std::mutex> l(hooks.mutex);
        if (!hooks.tracked.empty()) group = *hooks.tracked.begin();
    }
    hooks.cancel = true;
    t.join();
    REQUIRE(remote_started);
    REQUIRE(group > 0);
    CHECK(r.status == EXED_ERR_CANCELLED);
    CHECK(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count() < 60);
    CHECK(hooks.tracked.empty());
    // The whole local group is gone (orphaned members need a moment to be reaped).
    CHECK(wait_until([&] { return group_gone(group); }, 10));
    pid_t remote = std::stoi(slurp(pid_file));
    CHECK(wait_until([&] { return process_gone(remote); }, 10));  // so is the remote sleep
}

TEST_CASE("run_timeout: the deadline kills the run and names the timeout") {
    AnsiblePlugin p(hosts_config());
    DeadlineHooks hooks;
    hooks.at = std::time(nullptr) + 4;
    auto started = Clock::now();
    auto r = p.run("execute", execute_args(R"(["node2"])", R"(["sleep","300"])"), hooks);
    auto took = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count();
    CHECK(r.status == EXED_ERR);
    CHECK(r.error.find("run_timeout") != std::string::npos);
    CHECK(took < 20);
    CHECK(hooks.tracked.empty());
    for (pid_t g : hooks.ever_tracked) CHECK(wait_until([&] { return group_gone(g); }, 10));
}

TEST_CASE("facter: facter's facts where the host has facter - ansible's where not") {
    AnsiblePlugin p(hosts_config());
    RecordingHooks hooks;
    auto r = p.run("facter", R"({"targets":)" + kAll + "}", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    CHECK(hooks.snapshot().size() == 3);
    for (auto h : {"node1", "node2", "node3"}) {
        auto b = res->getObject(h);
        REQUIRE(b);
        CHECK(b->getValue<int>("state") == 0);
        auto facts = b->getObject("facter");
        REQUIRE(facts);
        bool hidden = std::string(h) == "node3";
        std::string source = b->getValue<std::string>("source");
        if (facter_installed() && !hidden) {
            CHECK(source == "facter");
            CHECK(facts->has("facterversion"));
            CHECK(facts->has("kernel"));
        } else {
            CHECK(source == "ansible");
            CHECK(facts->getValue<std::string>("system") == "Linux");
            CHECK(facts->has("distribution"));
        }
    }
    if (!facter_installed()) MESSAGE("facter is not installed: only the ansible source was tested");
}

TEST_CASE("a stopped host is unreachable (3) for every operation") {
    SshHosts& hosts = test_hosts();
    AnsiblePlugin p(hosts_config());
    hosts.stop(1);
    struct Op {
        const char* op;
        std::string args;
        const char* key;
    };
    std::vector<Op> ops = {
        {"ping", R"({"targets":["node2"]})", "status"},
        {"facter", R"({"targets":["node2"]})", "state"},
        {"execute", R"({"targets":["node2"],"cmd":"true"})", "status"},
        {"service", R"({"targets":["node2"],"name":"exed-testsvc","state":0})", "status"},
        {"deploy", R"({"targets":["node2"],"role":"exed_demo","extra_vars":{"greeting":"x"}})", "status"},
    };
    for (auto& op : ops) {
        CAPTURE(op.op);
        RecordingHooks hooks;
        auto r = p.run(op.op, op.args, hooks);
        REQUIRE_MESSAGE(r.ok(), r.error);
        auto b = obj(r.result)->getObject("node2");
        REQUIRE(b);
        CHECK(b->getValue<int>(op.key) == 3);
        CHECK(!b->getValue<std::string>("error").empty());
        CHECK(!hooks.snapshot().empty());
    }
    hosts.start(1);
}

TEST_CASE("service: a real init script started - stopped - restarted - reloaded") {
    SshHosts& hosts = test_hosts();
    AnsiblePlugin p(hosts_config());
    auto service = [&](int state, bool graceful) {
        RecordingHooks hooks;
        auto r = p.run("service",
                       R"({"targets":)" + kAll + R"(,"name":"exed-testsvc","state":)" +
                           std::to_string(state) + R"(,"graceful":)" + (graceful ? "true" : "false") + "}",
                       hooks);
        REQUIRE_MESSAGE(r.ok(), r.error);
        CHECK(hooks.snapshot().size() == 3);
        std::vector<int> statuses;
        auto res = obj(r.result);
        for (auto h : {"node1", "node2", "node3"}) {
            auto b = res->getObject(h);
            statuses.push_back(b->getValue<int>("status"));
            if (statuses.back() == 2) MESSAGE(h << ": " << b->getValue<std::string>("error"));
        }
        return statuses;
    };
    auto log_of = [&](int i) { return slurp(hosts.srv_dir(i) + "/exed-testsvc.log"); };
    bool left_running = false;  // by an earlier run in this process
    for (int i = 0; i < 3; ++i) left_running |= fs::exists(hosts.srv_dir(i) + "/exed-testsvc.pid");
    if (left_running) service(1, false);
    for (int i = 0; i < 3; ++i) fs::remove(hosts.srv_dir(i) + "/exed-testsvc.log");

    CHECK(service(0, false) == std::vector<int>{4, 4, 4});  // started: changed
    CHECK(service(0, false) == std::vector<int>{0, 0, 0});  // already running: unchanged
    pid_t first = std::stoi(slurp(hosts.srv_dir(0) + "/exed-testsvc.pid"));
    CHECK(!process_gone(first));
    CHECK(service(2, true) == std::vector<int>{4, 4, 4});   // reloaded
    CHECK(wait_until([&] { return log_of(0).find("reload") != std::string::npos; }, 5));
    CHECK(service(2, false) == std::vector<int>{4, 4, 4});  // restarted: a new daemon
    pid_t second = std::stoi(slurp(hosts.srv_dir(0) + "/exed-testsvc.pid"));
    CHECK(second != first);
    CHECK(service(1, false) == std::vector<int>{4, 4, 4});  // stopped
    CHECK(service(1, false) == std::vector<int>{0, 0, 0});
    CHECK(wait_until([&] { return process_gone(second); }, 5));
    for (int i = 0; i < 3; ++i) CHECK(log_of(i) == "start\nreload\nstop\nstart\nstop\n");

    RecordingHooks hooks;
    auto r = p.run("service", R"({"targets":["node1"],"name":"no-such-svc","state":0})", hooks);
    REQUIRE(r.ok());
    auto b = obj(r.result)->getObject("node1");
    CHECK(b->getValue<int>("status") == 2);
    CHECK(!b->getValue<std::string>("error").empty());
}

TEST_CASE("deploy: a role applied with one of its two tags - events per task per host") {
    SshHosts& hosts = test_hosts();
    AnsiblePlugin p(hosts_config());
    for (int i = 0; i < 3; ++i)
        for (auto f : {"/demo.conf", "/demo.version"}) fs::remove(hosts.srv_dir(i) + f);
    const std::string greeting = "hello {{ not_templated }} \xC3\xBC";
    std::string args = R"({"targets":)" + kAll +
                       R"(,"role":"exed_demo","partial":"config","extra_vars":{"greeting":"hello {{ not_templated }} \u00fc"}})";
    RecordingHooks hooks;
    auto r = p.run("deploy", args, hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto res = obj(r.result);
    for (int i = 0; i < 3; ++i) {
        std::string h = hosts.name(i);
        CAPTURE(h);
        CHECK(res->getObject(h)->getValue<int>("status") == 4);
        CHECK(slurp(hosts.srv_dir(i) + "/demo.conf") == greeting + "\n");
        CHECK_FALSE(fs::exists(hosts.srv_dir(i) + "/demo.version"));  // other tag: not run
    }
    // Per task per host: "write config" (changed) and "check config" (ok).
    std::map<std::string, std::vector<std::pair<std::string, int>>> tasks;
    for (auto& e : hooks.snapshot()) {
        auto ev = obj(e);
        std::vector<std::string> names;
        ev->getNames(names);
        auto b = ev->getObject(names[0]);
        if (b->has("name")) tasks[names[0]].emplace_back(b->getValue<std::string>("name"), b->getValue<int>("status"));
        if (b->has("name")) CHECK(b->getObject("return_data"));
    }
    for (auto h : {"node1", "node2", "node3"}) {
        std::vector<std::pair<std::string, int>> want = {{"write config", 4}, {"check config", 0}};
        CHECK(tasks[h] == want);
    }

    RecordingHooks again;  // idempotent: nothing changes the second time
    r = p.run("deploy", args, again);
    REQUIRE(r.ok());
    CHECK(obj(r.result)->getObject("node1")->getValue<int>("status") == 0);

    RecordingHooks full;  // no partial: every untagged-by-never task
    r = p.run("deploy", R"({"targets":["node2"],"role":"exed_demo","extra_vars":{"greeting":"g"}})", full);
    REQUIRE(r.ok());
    CHECK(obj(r.result)->getObject("node2")->getValue<int>("status") == 4);
    CHECK(slurp(hosts.srv_dir(1) + "/demo.version") == "v1\n");

    RecordingHooks broken;  // a failing task fails the host
    r = p.run("deploy", R"({"targets":["node3"],"role":"exed_demo","partial":"broken"})", broken);
    REQUIRE(r.ok());
    auto b = obj(r.result)->getObject("node3");
    CHECK(b->getValue<int>("status") == 2);
    CHECK(b->getValue<std::string>("error").find("fail on purpose") != std::string::npos);
}
