// The ansible fork server (executors/ansible/forkserver): runs are forked
// from one resident, pre-imported ansible; each run still reads ansible.cfg
// afresh; when the server dies, runs spawn ansible directly and say so.
#include "integration/ansible_support.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <signal.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace exed::test;
using Clock = std::chrono::steady_clock;

namespace {

pid_t parent_of(pid_t pid) {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces.
    std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    return ppid;
}

std::string cmdline_of(pid_t pid) {
    std::string raw = slurp("/proc/" + std::to_string(pid) + "/cmdline");
    for (auto& c : raw)
        if (c == '\0') c = ' ';
    return raw;
}

std::string comm_of(pid_t pid) {
    std::string c = slurp("/proc/" + std::to_string(pid) + "/comm");
    while (!c.empty() && c.back() == '\n') c.pop_back();
    return c;
}

// Fork servers whose socket lies in `run_dir`.
std::vector<pid_t> servers_in(const std::string& run_dir) {
    std::vector<pid_t> out;
    for (auto& e : fs::directory_iterator("/proc")) {
        std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string cmd = cmdline_of(std::stoi(name));
        if (cmd.find("exed_forkserver.py") != std::string::npos &&
            cmd.find(run_dir + "/forkserver-") != std::string::npos)
            out.push_back(std::stoi(name));
    }
    return out;
}

// Who started the run: the parent of the process group exed tracks while an
// `execute` of `sleep 2` runs on node1. Also its comm (process name).
struct Launch {
    pid_t parent = 0;
    std::string comm;
    bool ok = false;
};

Launch observe_launch(const AnsiblePlugin& p) {
    RecordingHooks hooks;
    exed::plugins::OpResult r;
    std::thread t([&] { r = p.run("execute", R"({"targets":["node1"],"argv":["sleep","2"]})", hooks); });
    Launch seen;
    wait_until(
        [&] {
            std::lock_guard<std::mutex> l(hooks.mutex);
            if (hooks.tracked.empty()) return false;
            pid_t pid = *hooks.tracked.begin();
            seen.parent = parent_of(pid);
            seen.comm = comm_of(pid);  // set by the child just after the fork
            // A fork server's child is seen once it named itself; one the
            // plugin spawned directly at once (it never says "ansible": it
            // waited out all 60 s, as long as the fork server's retry
            // delay, and under load the server was back before the test
            // checked that it was not).
            return seen.parent > 0 && (seen.comm == "ansible" || seen.parent == getpid());
        },
        60);
    t.join();
    seen.ok = r.ok() && obj(r.result)->getObject("node1")->optValue<int>("rtc", -1) == 0;
    if (!seen.ok) MESSAGE(std::string(r.error + " " + r.result));
    return seen;
}

// Captures what plugins log (logger "exed.plugin").
class CaptureChannel : public Poco::Channel {
public:
    void log(const Poco::Message& msg) override {
        std::lock_guard<std::mutex> l(mutex);
        lines.push_back(msg.getText());
    }
    bool contains(const std::string& text) {
        std::lock_guard<std::mutex> l(mutex);
        for (auto& line : lines)
            if (line.find(text) != std::string::npos) return true;
        return false;
    }
    std::mutex mutex;
    std::vector<std::string> lines;
};

int ping_status(const AnsiblePlugin& p, const std::string& host, std::string* error = nullptr) {
    RecordingHooks hooks;
    auto r = p.run("ping", R"({"targets":[")" + host + R"("]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    auto body = obj(r.result)->getObject(host);
    if (error) *error = body->optValue<std::string>("error", "");
    return body->getValue<int>("status");
}

}  // namespace

TEST_CASE("fork server: runs are forked from one resident ansible - named after what they run") {
    std::string run_dir = test_hosts().dir() + "/run-fs1";
    AnsiblePlugin p(hosts_config({{"run_dir", run_dir}}));
    CHECK(servers_in(run_dir).empty());  // started on first use, not at load

    Launch first = observe_launch(p);
    CHECK(first.ok);
    auto servers = servers_in(run_dir);
    REQUIRE(servers.size() == 1);
    CHECK(first.parent == servers[0]);
    CHECK(first.comm == "ansible");

    Launch second = observe_launch(p);  // the same server again
    CHECK(second.ok);
    CHECK(second.parent == servers[0]);
    CHECK(servers_in(run_dir) == servers);
}

TEST_CASE("fork server: each run re-reads ansible.cfg from the workdir") {
    SshHosts& hosts = test_hosts();
    std::string run_dir = hosts.dir() + "/run-fs2";
    std::string cfg = hosts.dir() + "/ansible.cfg";
    struct RemoveCfg {
        std::string path;
        ~RemoveCfg() { fs::remove(path); }
    } cleanup{cfg};
    AnsiblePlugin p(hosts_config({{"run_dir", run_dir}}));
    CHECK(ping_status(p, "node1") == 0);  // the server is up, imported without the file
    REQUIRE(servers_in(run_dir).size() == 1);

    // node2 has no cached interpreter yet, so the config decides which one.
    { std::ofstream(cfg) << "[defaults]\ninterpreter_python = /nonexistent/python3\n"; }
    std::string error;
    CHECK(ping_status(p, "node2", &error) == 2);
    CHECK_MESSAGE(error.find("interpreter") != std::string::npos, error);

    fs::remove(cfg);
    CHECK(ping_status(p, "node2") == 0);
    CHECK(servers_in(run_dir).size() == 1);  // all through the same server
}

TEST_CASE("fork server: when it dies, runs spawn ansible directly and the log says why") {
    Poco::AutoPtr<CaptureChannel> capture(new CaptureChannel);
    auto& logger = Poco::Logger::get("exed.plugin");
    auto old_channel = logger.getChannel();
    logger.setChannel(capture);
    struct Restore {
        Poco::Logger& logger;
        Poco::Channel::Ptr channel;
        ~Restore() { logger.setChannel(channel); }
    } restore{logger, old_channel};

    std::string run_dir = test_hosts().dir() + "/run-fs3";
    AnsiblePlugin p(hosts_config({{"run_dir", run_dir}}));
    CHECK(ping_status(p, "node3") == 0);
    auto servers = servers_in(run_dir);
    REQUIRE(servers.size() == 1);
    REQUIRE(kill(servers[0], SIGKILL) == 0);
    CHECK(wait_until([&] { return servers_in(run_dir).empty(); }, 10));

    Launch after = observe_launch(p);
    CHECK(after.ok);
    CHECK(after.parent == getpid());  // spawned by the plugin itself
    CHECK(capture->contains("fork server unavailable"));
    CHECK(servers_in(run_dir).empty());  // not restarted before the retry delay
}

TEST_CASE("fork server: fork_server = false spawns every run directly") {
    std::string run_dir = test_hosts().dir() + "/run-fs4";
    AnsiblePlugin p(hosts_config({{"run_dir", run_dir}, {"fork_server", "false"}}));
    Launch run = observe_launch(p);
    CHECK(run.ok);
    CHECK(run.parent == getpid());
    CHECK(servers_in(run_dir).empty());
}
