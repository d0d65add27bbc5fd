// targets: host patterns evaluated in-process must select the same hosts as
// `ansible <pattern> --list-hosts` on the same inventory (run here for real).
#include "integration/ansible_support.hpp"

#include <doctest/doctest.h>

#include <Poco/String.h>

#include <algorithm>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace exed::test;

namespace {

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Hosts printed by `ansible -i inv <pattern> --list-hosts`.
std::vector<std::string> ansible_list_hosts(const std::string& inventory, const std::string& pattern) {
    std::string out;
    run_command({"env", "ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCALHOST_WARNING=False", "ansible", "-i",
                 inventory, pattern, "--list-hosts"},
                &out);
    std::vector<std::string> hosts;
    std::istringstream in(out);
    bool listing = false;
    for (std::string line; std::getline(in, line);) {
        if (line.find("hosts (") != std::string::npos) {
            listing = true;
            continue;
        }
        if (listing && line.rfind("    ", 0) == 0) hosts.push_back(Poco::trim(line));
    }
    return hosts;
}

// The python that runs the `ansible` command (its shebang).
std::string ansible_python() {
    std::istringstream path(getenv("PATH") ? getenv("PATH") : "/usr/bin");
    for (std::string dir; std::getline(path, dir, ':');) {
        std::ifstream script(dir + "/ansible");
        std::string line;
        if (script && std::getline(script, line) && line.rfind("#!", 0) == 0)
            return Poco::trim(line.substr(2));
    }
    return "/usr/bin/python3";
}

// What --list-hosts prints for each pattern, computed by the very call the
// CLI makes (InventoryManager.list_hosts), in one process for all patterns:
// 35 CLI runs would cost a minute of the suite's budget.
std::map<std::string, std::vector<std::string>> ansible_list_hosts_all(
    const std::string& inventory, const std::vector<std::string>& patterns) {
    const char* script =
        "import sys\n"
        "from ansible.parsing.dataloader import DataLoader\n"
        "from ansible.inventory.manager import InventoryManager\n"
        "inv = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])\n"
        "for p in sys.argv[2:]:\n"
        "    try:\n"
        "        hosts = [h.name for h in inv.list_hosts(p)]\n"
        "    except Exception as e:\n"
        "        hosts = ['<error: %s>' % e]\n"
        "    print('\\t'.join([p] + hosts))\n";
    std::vector<std::string> argv = {ansible_python(), "-c", script, inventory};
    argv.insert(argv.end(), patterns.begin(), patterns.end());
    std::string out;
    run_command(argv, &out);
    std::map<std::string, std::vector<std::string>> result;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> fields;
        std::istringstream cols(line);
        for (std::string f; std::getline(cols, f, '\t');) fields.push_back(f);
        // stderr is mixed in (warnings): keep the lines naming a pattern
        if (fields.empty() || std::find(patterns.begin(), patterns.end(), fields[0]) == patterns.end())
            continue;
        result[fields[0]] = std::vector<std::string>(fields.begin() + 1, fields.end());
    }
    return result;
}

std::vector<std::string> plugin_targets(const AnsiblePlugin& p, const std::string& pattern,
                                        RecordingHooks& hooks) {
    Object args;
    args.set("pattern", pattern);
    std::ostringstream json;
    Poco::JSON::Stringifier::condense(args, json);
    auto r = p.run("targets", json.str(), hooks);
    REQUIRE_MESSAGE(r.ok(), r.error);
    std::vector<std::string> hosts;
    auto a = arr(r.result);
    for (size_t i = 0; i < a->size(); ++i) hosts.push_back(a->getElement<std::string>(i));
    return hosts;
}

}  // namespace

TEST_CASE("targets matches ansible --list-hosts for every kind of pattern") {
    // A copy: the inventory is a directory of an INI and a YAML file.
    std::string dir = test_hosts().dir() + "/patterns";
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy(kFixtures + "/patterns", dir + "/inventory", fs::copy_options::recursive);
    AnsiblePlugin p({{"workdir", dir}, {"run_dir", dir + "/run"}});
    const char* patterns[] = {
        "all", "*", "web", "db", "backend", "edge", "staging", "ungrouped",
        "web:db", "web,db", "web db", "web:&prod", "web:!prod", "all:!web:!db",
        "&prod", "!web", "web:&edge:!prod", "~db[0-9]+", "~web[12]\\.example\\.(com|org)",
        "web*", "*.example.com", "db?", "db1*", "web[0]", "web[1:]", "web[0:1]", "web[-1]",
        "db1", "db1:cache2", "lonely.example.com", "nomatch", "no*match", "prod:&db:cache",
        "backend:!cache1", "edge:&web",
        // fnmatch's corners (our glob is our own code, not a regex: issue 14)
        "d[a-c]1*", "*[!0-9m]", "[!w]*", "web\\", "d[b-a]*", "c[a-c]che?", "[]x]*", "web[1",
        "we?[!x]*:&*.com", "*a*e*",
    };
    std::vector<std::string> all(std::begin(patterns), std::end(patterns));
    auto theirs = ansible_list_hosts_all(dir + "/inventory", all);
    REQUIRE(theirs.size() == all.size());
    RecordingHooks hooks;
    for (auto& pattern : all) {
        CAPTURE(pattern);
        auto ours = plugin_targets(p, pattern, hooks);
        CHECK(sorted(ours) == sorted(theirs[pattern]));
        CHECK(std::set<std::string>(ours.begin(), ours.end()).size() == ours.size());
    }
    // And against the command line itself, for a few of them.
    for (std::string pattern : {"web:!prod", "backend:&~db", "web[1:]", "*.example.com:db1"}) {
        CAPTURE(pattern);
        CHECK(sorted(plugin_targets(p, pattern, hooks)) ==
              sorted(ansible_list_hosts(dir + "/inventory", pattern)));
    }
    CHECK(hooks.ever_tracked.empty());  // no process per call: all from the cache
}

TEST_CASE("targets sees inventory changes (mtime) and reloads only then") {
    std::string dir = test_hosts().dir() + "/changing";
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir + "/inventory") << "[web]\nw1\n";
    AnsiblePlugin p({{"workdir", dir}, {"run_dir", dir + "/run"}});
    RecordingHooks hooks;
    CHECK(plugin_targets(p, "web", hooks) == std::vector<std::string>{"w1"});
    CHECK(plugin_targets(p, "web", hooks) == std::vector<std::string>{"w1"});
    CHECK(hooks.ever_tracked.empty());
    std::ofstream(dir + "/inventory", std::ios::app) << "w2\n";
    CHECK(plugin_targets(p, "web", hooks) == std::vector<std::string>{"w1", "w2"});
    CHECK(hooks.ever_tracked.size() == 1);  // one ansible-inventory run, tracked
    CHECK(plugin_targets(p, "*", hooks) == std::vector<std::string>{"w1", "w2"});
    CHECK(hooks.ever_tracked.size() == 1);
}

TEST_CASE("hostile patterns: a clear error or ansible's answer, never a crash or minutes of CPU") {
    // Each of these crashed the daemon (PCRE recursion per character) or
    // burnt CPU exponentially in the number of stars (Poco::Glob): issue 14.
    std::string dir = test_hosts().dir() + "/hostile";
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy(kFixtures + "/patterns", dir + "/inventory", fs::copy_options::recursive);
    AnsiblePlugin p({{"workdir", dir}, {"run_dir", dir + "/run"}});
    RecordingHooks hooks;
    auto targets = [&](const std::string& pattern) {
        Object args;
        args.set("pattern", pattern);
        std::ostringstream json;
        Poco::JSON::Stringifier::condense(args, json);
        return p.run("targets", json.str(), hooks);
    };
    // Longest accepted pattern: evaluated (no stack overflow), no match.
    auto r = targets(std::string(4096, 'a'));
    CHECK(r.ok());
    CHECK(arr(r.result)->size() == 0);
    r = targets(std::string(4096, '['));
    CHECK(r.ok());
    r = targets(std::string(9000, 'a'));
    CHECK(!r.ok());
    CHECK(r.error.find("longer than 4096") != std::string::npos);
    // Many stars against every name: linear work, ansible's answer.
    std::string stars = std::string(36, '*') + "x";
    std::string star_names = std::string(2000, '*') + "m";
    std::string bracket = "web" + std::string(3000, '[') + "1]";
    auto theirs = ansible_list_hosts_all(dir + "/inventory",
                                         {stars, star_names, "all[99999999999]", "\\", bracket});
    for (auto& pattern : {stars, star_names, std::string("\\"), bracket}) {
        CAPTURE(pattern.substr(0, 40));
        r = targets(pattern);
        if (!theirs[pattern].empty() && theirs[pattern][0].rfind("<error", 0) == 0) {
            CHECK(!r.ok());  // ansible refuses it too ("no hosts matched the subscripted pattern")
            continue;
        }
        REQUIRE_MESSAGE(r.ok(), r.error);
        std::vector<std::string> ours;
        for (size_t i = 0; i < arr(r.result)->size(); ++i)
            ours.push_back(arr(r.result)->getElement<std::string>(i));
        CHECK(sorted(ours) == sorted(theirs[pattern]));
    }
    // A subscript past the end: ansible refuses it too.
    REQUIRE(theirs["all[99999999999]"].size() == 1);
    CHECK(theirs["all[99999999999]"][0].rfind("<error", 0) == 0);
    r = targets("all[99999999999]");
    CHECK(!r.ok());
    CHECK(r.error.find("no hosts matched the subscripted pattern") != std::string::npos);
    r = targets("all[99999999999999999999999999:]");
    CHECK(r.ok());
}
