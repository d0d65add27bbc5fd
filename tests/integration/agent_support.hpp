// Shared pieces of the agent suites: real `exed agent` processes on
// loopback, the exe.conf of an exed whose executor is `agent`, and small
// waits. Everything is real: agents are child processes of the test.
#pragma once

#include "support/exed_process.hpp"
#include "support/fixtures.hpp"
#include "support/http_client.hpp"
#include "support/procs.hpp"
#include "support/temp_dir.hpp"

#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace exed::test {

inline const std::string kAgentToken = "agent-token-of-this-test-0123456789";

inline bool wait_until(const std::function<bool()>& done, double seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
}

// A token file and the agent port shared by an exed and its agents.
struct AgentSite {
    TempDir dir;
    int agent_port = free_port();
    std::string token_file = dir.write("agent.token", kAgentToken + "\n");
    std::string key = dir.file("agent-signing.pem");

    // exe.conf of an exed with `[runner] executor = agent`; `extra` is appended to [agent].
    // `auto_accept = true` (the first key seen for a name is accepted and
    // pinned): these suites test operations, not enrolment, which
    // agent_identity_test.cpp tests with the default (false).
    std::string exed_config(const SharedRedis& redis, const std::string& extra = "",
                            bool auto_accept = true) const {
        return test_config(redis.url(),
                           "[runner]\nexecutor = agent\n[agent]\nlisten = 127.0.0.1\nlisten_port = " +
                               std::to_string(agent_port) + "\nsigning_key = " + key + "\ntoken_file = " +
                               token_file + "\nheartbeat_timeout = 2\nkill_grace = 1\n" +
                               (auto_accept ? "auto_accept = true\n" : "") + extra,
                           EXED_BUILD_DIR "/plugins");
    }
};

// The node keys of every agent of this test binary: a node name keeps its
// key when a test starts its agent again, as on a real node.
inline const std::string& shared_keys_dir() {
    static TempDir dir;
    static const std::string path = [] {
        std::string p = dir.file("agent-keys");
        Poco::File(p).createDirectories();
        return p;
    }();
    return path;
}

// One `exed agent -c agent.conf` process.
class AgentProcess {
public:
    // `extra` is appended to [agent]; `commands` is the [agent.commands] body.
    AgentProcess(const std::string& server, const std::string& name, const std::string& public_key,
                 const std::string& token_file, const std::string& extra = "",
                 const std::string& commands = "") {
        // A state_dir per process (an agent locks its own: replay/lock), whose
        // keys/ are the binary's shared node keys (unless `extra` names a
        // state_dir).
        std::string state;
        if (extra.find("state_dir") == std::string::npos) {
            std::string dir = dir_.file("state");
            Poco::File(dir).createDirectories();
            Poco::File(shared_keys_dir()).createDirectories();
            if (::symlink(shared_keys_dir().c_str(), (dir + "/keys").c_str()) != 0)
                throw std::runtime_error("cannot link " + dir + "/keys");
            state = "state_dir = " + dir + "\n";
        }
        conf_ = dir_.write("agent.conf", "[agent]\nserver = " + server + "\nname = " + name +
                                             "\npublic_key = " + public_key + "\ntoken_file = " + token_file +
                                             "\nheartbeat = 0.5\nkill_grace = 1\n" + state + extra +
                                             "\n[agent.commands]\n" + commands);
    }
    ~AgentProcess() { stop(SIGTERM); }  // TERM: the agent ends its commands first

    void start() {
        std::string bin = exed_binary();
        std::vector<std::string> args = {bin, "agent", "-c", conf_};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        std::string log = dir_.file("agent.log");
        posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) throw std::runtime_error("cannot start exed agent");
    }
    void stop(int sig = SIGTERM) {
        if (pid_ <= 0) return;
        kill(pid_, sig);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = 0;
    }
    pid_t pid() const { return pid_; }
    std::string log() const {
        std::ifstream in(dir_.file("agent.log"));
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    const TempDir& dir() const { return dir_; }

private:
    TempDir dir_;
    std::string conf_;
    pid_t pid_ = 0;
};

// GET /target?pattern=... as a sorted list in JSON text.
// The CONNECTED nodes matching `pattern`, as /target's JSON array of names
// (["web1","web2"]). /target itself lists every known node, connected or
// not (issue 24, item 8): its detail form says which are up.
inline std::string listed(int port, const std::string& pattern) {
    auto r = http("GET", port, "/target?detail=1&pattern=" + q(pattern));
    if (r.status != 200) return r.body;
    Poco::JSON::Array up;
    auto all = Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < all->size(); ++i) {
        auto node = all->getObject(unsigned(i));
        if (node->getValue<std::string>("state") == "up") up.add(node->getValue<std::string>("name"));
    }
    std::ostringstream out;
    up.stringify(out);
    return out.str();
}

// SIGKILLs the process group of the process whose argv joined is `cmdline`.
inline void kill_group_of(const std::string& cmdline) {
    for (pid_t pid : pids_of(cmdline)) kill(-getpgid(pid), SIGKILL);
}

inline bool file_exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

}  // namespace exed::test
