// One argv rule (issue 24, item 9): the same `execute` cmd gives the same
// result through the ansible executor (real ansible over ssh to a real sshd
// on 127.0.0.11) and through the agent executor (a real `exed agent`), since
// exed splits cmd once and both run that argv; a cmd that does not split is a
// 400 on both, before any job exists.
#include "integration/agent_support.hpp"
#include "support/ssh_hosts.hpp"

#include <doctest/doctest.h>

using namespace exed::test;

namespace {

SshHosts& one_host() {
    static SshHosts hosts([] {
        SshHostsOptions o;
        o.count = 1;
        return o;
    }());
    return hosts;
}

std::string ansible_config(const SharedRedis& redis) {
    SshHosts& h = one_host();
    return test_config(redis.url(),
                       "[runner]\nexecutor = ansible\n[ansible]\ninventory = " + h.inventory_path() +
                           "\nsshkey = " + h.key_path() + "\nknown_hosts = " + h.known_hosts_path() +
                           "\ntimeout = 10\nrun_dir = @DIR@/ansible\n",
                       EXED_BUILD_DIR "/plugins");
}

// The host's result of a sync execute, as "rtc|stdout|stderr".
std::string outcome(int port, const std::string& host, const std::string& cmd) {
    auto r = http("GET", port, "/execute?target=" + host + "&cmd=" + q(cmd));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto o = r.object()->getObject(host);
    REQUIRE_MESSAGE(o, r.body);
    return std::to_string(o->getValue<int>("rtc")) + "|" + o->getValue<std::string>("stdout") + "|" +
           o->optValue<std::string>("stderr", "");
}

}  // namespace

TEST_CASE("one argv rule: a quoted execute gives the same argv on the ansible and the agent executor") {
    SharedRedis redis;
    ExedProcess via_ansible(ansible_config(redis));
    via_ansible.start();
    SharedRedis agent_redis;
    AgentSite site;
    ExedProcess via_agent(site.exed_config(agent_redis));
    via_agent.start();
    const std::string host = one_host().name(0);  // the same name on both
    AgentProcess agent("http://127.0.0.1:" + std::to_string(site.agent_port), host, site.key + ".pub",
                       site.token_file, "allow_exec = true");
    agent.start();
    REQUIRE_MESSAGE(wait_until([&] { return listed(via_agent.port(), "*") == "[\"" + host + "\"]"; }, 20),
                    agent.log());

    CHECK(outcome(via_ansible.port(), host, "sh -c 'echo hi; exit 3'") == "3|hi\n|");
    CHECK(outcome(via_agent.port(), host, "sh -c 'echo hi; exit 3'") == "3|hi\n|");
    // (cmd, what its argv prints): quotes join, '' is a word, \ escapes
    // outside quotes, only \" and \\ inside double quotes, nothing expands.
    const std::pair<std::string, std::string> cases[] = {
        {R"(printf '<%s>' a"b c"d '' x\ y "\$HOME" "a\"b" 'c\d' *)", R"(0|<ab cd><><x y><\$HOME><a"b><c\d><*>|)"},
        {"sh -c 'printf \"%s|\" \"$@\"' sh one\\ two \"three four\" #five", "0|one two|three four|#five||"},
        {"sh -c 'echo out; echo err >&2; exit 7'", "7|out\n|err\n"},
    };
    for (auto& [cmd, printed] : cases) {
        CAPTURE(cmd);
        CHECK(outcome(via_ansible.port(), host, cmd) == printed);
        CHECK(outcome(via_agent.port(), host, cmd) == printed);
    }
    for (std::string bad : {"sh -c 'echo hi", "echo \"a", "echo a\\"}) {
        CAPTURE(bad);
        for (int port : {via_ansible.port(), via_agent.port()}) {
            auto r = http("GET", port, "/execute?target=" + host + "&cmd=" + q(bad));
            CHECK(r.status == 400);
            CHECK(r.body.find("cannot be split") != std::string::npos);
        }
    }
}
