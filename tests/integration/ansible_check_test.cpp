// check(): every refused input, without starting a process; and the
// localhost inventory `make run` uses.
#include "integration/ansible_support.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <signal.h>

namespace fs = std::filesystem;
using namespace exed::test;

TEST_CASE("check refuses bad input with 400 / 404 and a clear message") {
    AnsiblePlugin p(hosts_config());
    // Long fields: PCRE failed on a 40,000-byte tag ("Error in regular expression", a 500).
    static const std::string long_partial =
        R"({"targets":["node1"],"role":"exed_demo","partial":")" + std::string(40000, 'A') + "\"}";
    static const std::string long_var =
        R"({"targets":["node1"],"role":"exed_demo","extra_vars":{")" + std::string(40000, 'a') + "\":1}}";
    static const std::string long_role = R"({"targets":["node1"],"role":")" + std::string(40000, 'a') + "\"}";
    struct Case {
        const char* op;
        const char* args;
        int status;
        const char* says;
    };
    const Case cases[] = {
        {"ping", "not json", EXED_ERR_BAD_INPUT, "not valid JSON"},
        {"ping", "[1]", EXED_ERR_BAD_INPUT, "must be a JSON object"},
        {"ping", "{}", EXED_ERR_BAD_INPUT, "targets is required"},
        {"ping", R"({"targets":5})", EXED_ERR_BAD_INPUT, "array of strings"},
        {"ping", R"({"targets":[]})", EXED_ERR_BAD_INPUT, "must not be empty"},
        {"ping", R"({"targets":[1]})", EXED_ERR_BAD_INPUT, "array of strings"},
        {"ping", R"({"targets":["-i"]})", EXED_ERR_BAD_INPUT, "invalid target"},
        {"ping", R"({"targets":["web*"]})", EXED_ERR_BAD_INPUT, "invalid target"},
        {"ping", R"({"targets":["node1","nodeX"]})", EXED_ERR_NOT_FOUND, "no such host: nodeX"},
        {"facter", R"({"targets":["all"]})", EXED_ERR_NOT_FOUND, "no such host: all"},
        {"service", R"({"targets":["node1"],"state":0})", EXED_ERR_BAD_INPUT, "name is required"},
        {"service", R"({"targets":["node1"],"name":"-x","state":0})", EXED_ERR_BAD_INPUT, "invalid service name"},
        {"service", R"({"targets":["node1"],"name":"a b","state":0})", EXED_ERR_BAD_INPUT, "invalid service name"},
        {"service", R"({"targets":["node1"],"name":"x;rm","state":0})", EXED_ERR_BAD_INPUT, "invalid service name"},
        {"service", R"({"targets":["node1"],"name":"{{x}}","state":0})", EXED_ERR_BAD_INPUT, "invalid service name"},
        {"service", R"({"targets":["node1"],"name":"nginx"})", EXED_ERR_BAD_INPUT, "state is required"},
        {"service", R"({"targets":["node1"],"name":"nginx","state":3})", EXED_ERR_BAD_INPUT, "state must be"},
        {"service", R"({"targets":["node1"],"name":"nginx","state":"up"})", EXED_ERR_BAD_INPUT, "state must be"},
        {"service", R"({"targets":["node1"],"name":"nginx","state":2,"graceful":"maybe"})", EXED_ERR_BAD_INPUT, "graceful"},
        {"execute", R"({"targets":["node1"]})", EXED_ERR_BAD_INPUT, "cmd or argv is required"},
        // exed sends both (docs/api.md, "One argv rule"): argv is checked beside cmd.
        {"execute", R"({"targets":["node1"],"cmd":"ls","argv":[]})", EXED_ERR_BAD_INPUT, "argv must not be empty"},
        {"execute", R"({"targets":["node1"],"cmd":5})", EXED_ERR_BAD_INPUT, "cmd must be a string"},
        {"execute", R"({"targets":["node1"],"cmd":"  "})", EXED_ERR_BAD_INPUT, "cmd must not be empty"},
        {"execute", R"({"targets":["node1"],"argv":"ls"})", EXED_ERR_BAD_INPUT, "argv must be an array"},
        {"execute", R"({"targets":["node1"],"argv":[]})", EXED_ERR_BAD_INPUT, "argv must not be empty"},
        {"execute", R"({"targets":["node1"],"argv":["ls",1]})", EXED_ERR_BAD_INPUT, "argv must be an array"},
        {"execute", R"({"targets":["node1"],"argv":["a\u0000b"]})", EXED_ERR_BAD_INPUT, "NUL"},
        {"deploy", R"({"targets":["node1"]})", EXED_ERR_BAD_INPUT, "role is required"},
        {"deploy", R"({"targets":["node1"],"role":"../etc"})", EXED_ERR_BAD_INPUT, "invalid role name"},
        {"deploy", R"({"targets":["node1"],"role":"nope"})", EXED_ERR_NOT_FOUND, "no such role: nope"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","partial":"nosuchtag"})", EXED_ERR_NOT_FOUND, "has no tag nosuchtag"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","partial":"--list"})", EXED_ERR_BAD_INPUT, "invalid tag"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","partial":7})", EXED_ERR_BAD_INPUT, "partial must be a string"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","extra_vars":[1]})", EXED_ERR_BAD_INPUT, "extra_vars must be an object"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","extra_vars":{"ansible_connection":"local"}})", EXED_ERR_BAD_INPUT, "ansible_connection"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","extra_vars":{"ansible_host":"10.0.0.1"}})", EXED_ERR_BAD_INPUT, "ansible_host"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","extra_vars":{"ansible_ssh_common_args":"-o X"}})", EXED_ERR_BAD_INPUT, "refused"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","extra_vars":{"ansible_become_user":"x"}})", EXED_ERR_BAD_INPUT, "refused"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","extra_vars":{"ANSIBLE_PYTHON_INTERPRETER":"/x"}})", EXED_ERR_BAD_INPUT, "refused"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","extra_vars":{"a-b":1}})", EXED_ERR_BAD_INPUT, "not a valid variable name"},
        {"deploy", R"({"targets":["node1"],"role":"exed_demo","extra_vars":{"x":{"__ansible_vault":"y"}}})", EXED_ERR_BAD_INPUT, "reserved"},
        {"targets", R"({"pattern":5})", EXED_ERR_BAD_INPUT, "pattern must be a string"},
        {"targets", R"({"pattern":"~a(b"})", EXED_ERR_BAD_INPUT, "invalid host pattern"},
        {"deploy", long_partial.c_str(), EXED_ERR_BAD_INPUT, "longer than 255 bytes"},
        {"deploy", long_var.c_str(), EXED_ERR_BAD_INPUT, "not a valid variable name"},
        {"deploy", long_role.c_str(), EXED_ERR_BAD_INPUT, "invalid role name"},
    };
    for (auto& c : cases) {
        std::string op = c.op, args = c.args;
        CAPTURE(op);
        CAPTURE(args);
        auto started = std::chrono::steady_clock::now();
        auto r = p.check(c.op, c.args);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started).count();
        CHECK(r.status == c.status);
        CHECK_MESSAGE(r.error.find(c.says) != std::string::npos, r.error);
        CHECK(ms < 200);  // HTTP thread: no process, no network
    }
    // Good input passes.
    for (auto [op, args] : std::vector<std::pair<const char*, const char*>>{
             {"ping", R"({"targets":["node1","node2"]})"},
             {"facter", R"({"targets":"node3"})"},
             {"service", R"({"targets":["node1"],"name":"nginx@a.service","state":"2","graceful":1})"},
             {"execute", R"({"targets":["node1"],"cmd":"ls -l"})"},
             {"execute", R"({"targets":["node1"],"argv":["sh","-c","x","sh","a"]})"},
             {"deploy", R"({"targets":["node1"],"role":"exed_demo","partial":"install","extra_vars":{"a":{"b":[1,{"c":2}]}}})"},
             {"targets", R"({"pattern":"web:&db"})"},
             {"targets", "{}"}}) {
        std::string what = std::string(op) + " " + args;
        CAPTURE(what);
        auto r = p.check(op, args);
        CHECK_MESSAGE(r.ok(), r.error);
    }
}

TEST_CASE("allow_connection_vars = true lets extra_vars set ansible_* keys") {
    AnsiblePlugin p(hosts_config({{"allow_connection_vars", "true"}}));
    auto r = p.check("deploy",
                     R"({"targets":["node1"],"role":"exed_demo","extra_vars":{"ansible_user":"root"}})");
    CHECK_MESSAGE(r.ok(), r.error);
}

namespace {

// Why loading the plugin with `config` was refused; fails the test if it loaded.
std::string init_refusal(const std::map<std::string, std::string>& config) {
    try {
        AnsiblePlugin p(config);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    FAIL("the plugin loaded");
    return {};
}

}  // namespace

TEST_CASE("a missing inventory refuses the plugin at init with a clear error") {
    std::string why = init_refusal(hosts_config({{"inventory", "/nonexistent/inventory"}}));
    CHECK(why.find("inventory /nonexistent/inventory does not exist") != std::string::npos);
    CHECK(why.find("Traceback") == std::string::npos);
}

TEST_CASE("a broken inventory is an init error with ansible's message and no traceback") {
    std::string dir = test_hosts().dir() + "/broken-inv";
    fs::create_directories(dir);
    std::ofstream(dir + "/hosts.yml") << "all:\n  hosts: [unclosed\n";
    std::string why = init_refusal(hosts_config({{"inventory", dir + "/hosts.yml"}}));
    CHECK(why.find("cannot read inventory") != std::string::npos);
    CHECK(why.find("Traceback") == std::string::npos);
}

TEST_CASE("a hanging inventory script is killed after inventory_timeout - init fails saying so") {
    std::string dir = test_hosts().dir() + "/hanging-inv";
    fs::create_directories(dir);
    std::string script = dir + "/inventory.sh", pid_file = dir + "/script.pid";
    fs::remove(pid_file);
    std::ofstream(script) << "#!/bin/sh\necho $$ > " << pid_file << "\nexec sleep 300\n";
    fs::permissions(script, fs::perms::owner_all);
    // Without the timeout this load would wait for the 300 s sleep (and hit
    // ctest's limit); with it, init fails and names the timeout.
    std::string why = init_refusal(hosts_config({{"inventory", script}, {"inventory_timeout", "3"}}));
    CHECK_MESSAGE(why.find("did not finish within 3 s and was killed") != std::string::npos, why);
    REQUIRE(fs::exists(pid_file));  // the script did run
    pid_t pid = std::stoi(slurp(pid_file));
    CHECK(wait_until([&] { return kill(pid, 0) != 0 && errno == ESRCH; }, 10));  // and is gone
}

TEST_CASE("localhost with ansible_connection=local (the make run inventory)") {
    std::string dir = test_hosts().dir() + "/local";
    fs::create_directories(dir);
    std::ofstream(dir + "/inventory") << "localhost ansible_connection=local\n";
    AnsiblePlugin p({{"workdir", dir}, {"run_dir", dir + "/run"}});
    RecordingHooks hooks;
    auto r = p.run("targets", "{}", hooks);
    REQUIRE(r.ok());
    CHECK(r.result == R"(["localhost"])");
    r = p.run("ping", R"({"targets":["localhost"]})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(obj(r.result)->getObject("localhost")->getValue<int>("status") == 0);
    r = p.run("execute", R"({"targets":["localhost"],"cmd":"echo hi there"})", hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    CHECK(r.result == R"({"localhost":{"output_order":[["stdout",9]],"rtc":0,"status":4,"stderr":"","stdout":"hi there\n"}})");
}
