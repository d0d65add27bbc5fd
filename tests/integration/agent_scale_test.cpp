// 1,000 emulated agents (instances = 1000, one process) connect to one
// exed and answer a ping fan-out; exed holds no thread per agent.
#include "integration/agent_support.hpp"

#include <doctest/doctest.h>

#include <dirent.h>

using namespace exed::test;

namespace {

int thread_count(pid_t pid) {
    int n = 0;
    DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
    if (!d) return -1;
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n;
}

}  // namespace

TEST_CASE("1,000 emulated agents connect and answer a ping fan-out") {
    AgentSite site;
    SharedRedis redis;
    ExedProcess exed(site.exed_config(redis));
    exed.start();
    int port = exed.port();
    int threads_before = thread_count(exed.pid());
    AgentProcess fleet("http://127.0.0.1:" + std::to_string(site.agent_port), "n", site.key + ".pub",
                       site.token_file, "instances = 1000\nheartbeat = 1");
    fleet.start();
    REQUIRE_MESSAGE(wait_until([&] {
        auto r = http("GET", port, "/target?pattern=*");
        return r.status == 200 && r.json().extract<Poco::JSON::Array::Ptr>()->size() == 1000;
    }, 120), fleet.log());
    auto r = http("GET", port, "/ping?target=" + q("n-*"), "", {}, 120);
    REQUIRE(r.status == 200);
    auto results = r.object();
    CHECK(results->size() == 1000);
    int ok = 0;
    for (auto& [node, v] : *results)
        if (v.extract<Poco::JSON::Object::Ptr>()->getValue<int>("status") == 0) ++ok;
    CHECK(ok == 1000);
    // Event-driven: 1,000 agents do not each hold an exed thread.
    CHECK(thread_count(exed.pid()) < threads_before + 16);
}
