// The agent's replay guard on its own file: what it remembered holds after
// a reopen (an agent restart), damage is skipped without losing the rest,
// expired records leave and the file is compacted. The guard in a real
// agent is tested in tests/integration/agent_refusals_test.cpp.
#include "agent/replay_guard.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>

using exed::agent::ReplayGuard;
using exed::test::TempDir;

namespace {

int64_t in_s(int64_t s) { return int64_t(::time(nullptr)) + s; }

off_t size_of(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

mode_t mode_of(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

}  // namespace

TEST_CASE("replay guard: what it committed survives a restart, damage is skipped and the rest holds") {
    TempDir dir;
    std::string state = dir.file("state");
    std::vector<std::string> said;
    auto log = [&](const std::string& line) { said.push_back(line); };
    {
        ReplayGuard guard(state, log);
        CHECK(guard.remember_nonce("web1", "n1", in_s(600)));
        CHECK(!guard.remember_nonce("web1", "n1", in_s(600)));  // seen, even before the commit
        CHECK(guard.remember_nonce("web2", "n1", in_s(600)));   // per node
        CHECK(guard.remember_run("web1", "job/1/web1", in_s(600)));
        CHECK(guard.remember_nonce("web1", "job/1/web1", in_s(600)));  // a nonce is no run id
        std::string why;
        REQUIRE_MESSAGE(guard.commit(why), why);
        CHECK(guard.syncs() == 1);  // one fdatasync for the batch
        CHECK(guard.commands() == 4);
    }
    CHECK(mode_of(state) == 0700);
    CHECK(mode_of(state + "/replay") == 0700);
    CHECK(mode_of(state + "/replay/seen.log") == 0600);
    {
        std::ofstream damage(state + "/replay/seen.log", std::ios::app);
        damage << "n 99999999999 not-a-record\nr 0000";  // garbage, then a record cut short
    }
    {
    ReplayGuard again(state, log);
    // One agent per state_dir: a second guard on it while this one lives
    // (another agent process) does not start.
    CHECK_THROWS_WITH_AS(ReplayGuard(state, log), doctest::Contains("in use by another exed agent"),
                         std::runtime_error);
    CHECK(again.size() == 4);
    CHECK(!again.remember_nonce("web1", "n1", in_s(600)));
    CHECK(!again.remember_nonce("web2", "n1", in_s(600)));
    CHECK(!again.remember_run("web1", "job/1/web1", in_s(600)));
    CHECK(again.remember_run("web2", "job/1/web1", in_s(600)));
    bool skipped = false, cut = false;
    for (auto& s : said) {
        skipped = skipped || s.find("skipped 1 unreadable record") != std::string::npos;
        cut = cut || s.find("cut short") != std::string::npos;
    }
    CHECK(skipped);
    CHECK(cut);
    // The damage was rewritten away: appends do not glue onto half a line.
    std::string why;
    REQUIRE(again.commit(why));
    }  // the agent stops: its lock goes with it
    said.clear();
    ReplayGuard third(state, log);
    CHECK(third.size() == 5);
    CHECK(said.empty());
}

TEST_CASE("replay guard: expired records leave and the file is compacted") {
    TempDir dir;
    std::string state = dir.file("state");
    ReplayGuard guard(state, [](const std::string&) {});
    // 13,000 records (more than the 1 MiB compaction floor), all but one already expired.
    for (int i = 0; i < 13000; ++i) guard.remember_nonce("n", "old-" + std::to_string(i), in_s(-1));
    guard.remember_nonce("n", "live", in_s(600));
    std::string why;
    REQUIRE_MESSAGE(guard.commit(why), why);
    CHECK(guard.size() == 1);
    CHECK(size_of(state + "/replay/seen.log") < 1000);
    CHECK(!guard.remember_nonce("n", "live", in_s(600)));
    CHECK(guard.remember_nonce("n", "old-1", in_s(600)));  // out of the window: new again
    REQUIRE(guard.commit(why));
}

TEST_CASE("replay guard: a compacted file holds what was live across a restart") {
    TempDir dir;
    std::string state = dir.file("state");
    std::string why;
    {
        ReplayGuard guard(state, [](const std::string&) {});
        for (int i = 0; i < 13000; ++i) guard.remember_nonce("n", "old-" + std::to_string(i), in_s(-1));
        guard.remember_nonce("n", "live", in_s(600));
        REQUIRE_MESSAGE(guard.commit(why), why);
        CHECK(size_of(state + "/replay/seen.log") < 1000);
        CHECK(guard.remember_nonce("n", "old-1", in_s(600)));
        REQUIRE(guard.commit(why));
    }
    ReplayGuard reopened(state, [](const std::string&) {});
    CHECK(reopened.size() == 2);
    CHECK(!reopened.remember_nonce("n", "old-1", in_s(600)));
    CHECK(!reopened.remember_nonce("n", "live", in_s(600)));
}
