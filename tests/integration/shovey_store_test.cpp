// The Shovey store against a real redis-server, and the pure pieces:
// quorum arithmetic, command-line splitting, the [shovey] config.
#include "jobs/keys.hpp"
#include "jobs/shovey_store.hpp"
#include "shovey/quorum.hpp"
#include "shovey/runs.hpp"
#include "shovey/shovey_config.hpp"
#include "errors.hpp"
#include "support/fixtures.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <fstream>

using namespace exed;
using namespace exed::test;

TEST_CASE("store: up or down after down_after misses and a bounded newest-first history") {
    SharedRedis redis;
    auto pool = redis.pool();
    shovey::Store store(*pool, shovey::node_status::open_list);
    // Never seen up: down at the first miss.
    CHECK(store.record_check("ghost", false, 2, 1000, 100) == "down");
    CHECK(store.record_check("n1", true, 2, 1000, 100) == "up");
    CHECK(store.record_check("n1", false, 2, 2000, 100) == "up");    // 1 miss < 2
    CHECK(store.record_check("n1", false, 2, 3000, 100) == "down");  // 2 misses
    CHECK(store.record_check("n1", false, 2, 4000, 100) == "down");
    CHECK(store.record_check("n1", true, 2, 5000, 100) == "up");
    CHECK(store.record_check("n1", false, 2, 6000, 100) == "up");
    auto latest = store.node_status("n1");
    REQUIRE(latest);
    CHECK(latest->status == "up");
    CHECK(latest->updated_ms == 6000);
    auto h = store.history("n1", 100);
    REQUIRE(h.size() == 6);
    CHECK(h[0].updated_ms == 6000);
    CHECK(h[2].status == "down");
    CHECK(h[5].updated_ms == 1000);
    for (int i = 0; i < 150; ++i) store.record_check("n2", true, 2, 10000 + i, 100);
    h = store.history("n2", 1000);
    CHECK(h.size() == 100);
    CHECK(h.front().updated_ms == 10149);
    CHECK(store.all_nodes().size() == 3);
    CHECK_FALSE(store.node_status("nobody"));
}

TEST_CASE("store: the check lease has one holder") {
    SharedRedis redis;
    auto pool = redis.pool();
    shovey::Store store(*pool, shovey::node_status::open_list);
    CHECK(store.take_check("a", 60000));
    CHECK_FALSE(store.take_check("b", 60000));
    store.end_check("b", 0);  // not b's to end
    CHECK_FALSE(store.take_check("b", 60000));
    store.end_check("a", 0);
    CHECK(store.take_check("b", 60000));
}

TEST_CASE("store: records and index pages with expired records dropped") {
    SharedRedis redis;
    auto pool = redis.pool();
    shovey::Store store(*pool, shovey::node_status::open_list);
    for (int i = 0; i < 5; ++i) {
        shovey::JobRecord j;
        j.id = "job" + std::to_string(i);
        j.command = "hello";
        j.nodes = {"a", "b"};
        j.runs["a"] = R"({"status":"down"})";
        store.create(j, 3600);
    }
    auto got = store.get("job3");
    REQUIRE(got);
    CHECK(got->nodes == std::vector<std::string>{"a", "b"});
    CHECK(got->runs["a"] == R"({"status":"down"})");
    auto p1 = store.list(2, "");
    CHECK(p1.ids == std::vector<std::string>{"job4", "job3"});
    auto p2 = store.list(2, p1.next_cursor);
    CHECK(p2.ids == std::vector<std::string>{"job2", "job1"});
    redis::Command del("DEL");
    del << jobs::keys::shovey_job("job0");
    pool->run(del);
    auto p3 = store.list(2, p2.next_cursor);
    CHECK(p3.ids.empty());
    CHECK(p3.next_cursor.empty());
}

// The Shovey store's own listing handed out a cursor whenever a page came
// back full, so a client paging an exactly full last page asked once more.
TEST_CASE("store: an exactly full last page has no next cursor") {
    SharedRedis redis;
    auto pool = redis.pool();
    shovey::Store store(*pool, shovey::node_status::open_list);
    for (int i = 0; i < 4; ++i) {
        shovey::JobRecord j;
        j.id = "job" + std::to_string(i);
        j.command = "hello";
        store.create(j, 3600);
    }
    auto p1 = store.list(2, "");
    CHECK(p1.ids == std::vector<std::string>{"job3", "job2"});
    REQUIRE_FALSE(p1.next_cursor.empty());
    auto p2 = store.list(2, p1.next_cursor);
    CHECK(p2.ids == std::vector<std::string>{"job1", "job0"});
    CHECK(p2.next_cursor.empty());
    auto all = store.list(4, "");
    CHECK(all.ids.size() == 4);
    CHECK(all.next_cursor.empty());
}

TEST_CASE("quorum: percentages round up and counts are bounded") {
    using shovey::required_nodes;
    CHECK(required_nodes(Poco::Dynamic::Var(), 3) == 3);
    CHECK(required_nodes(std::string("100%"), 3) == 3);
    CHECK(required_nodes(std::string("50%"), 3) == 2);
    CHECK(required_nodes(std::string("34%"), 3) == 2);
    CHECK(required_nodes(std::string("33%"), 3) == 1);
    CHECK(required_nodes(std::string("0%"), 3) == 0);
    CHECK(required_nodes(std::string("1%"), 100) == 1);
    CHECK(required_nodes(2, 3) == 2);
    CHECK(required_nodes(std::string("2"), 3) == 2);
    CHECK_THROWS_AS(required_nodes(4, 3), DomainError);
    CHECK_THROWS_AS(required_nodes(std::string("101%"), 3), DomainError);
    CHECK_THROWS_AS(required_nodes(std::string("+5"), 9), DomainError);
    CHECK_THROWS_AS(required_nodes(std::string("%"), 3), DomainError);
    CHECK_THROWS_AS(required_nodes(std::string("99999999999%"), 3), DomainError);
    CHECK_THROWS_AS(required_nodes(1.5, 3), DomainError);
}

TEST_CASE("config: commands split like a shell and bad sections are refused") {
    using shovey::split_command_line;
    CHECK(split_command_line("uptime") == std::vector<std::string>{"uptime"});
    CHECK(split_command_line("  sh   -c 'echo a; echo b' ") == std::vector<std::string>{"sh", "-c", "echo a; echo b"});
    CHECK(split_command_line(R"(echo "a b" \"c\")") == std::vector<std::string>{"echo", "a b", "\"c\""});
    // exed's one rule (shlex's): a backslash makes any character literal;
    // an unterminated quote or a trailing backslash is refused.
    CHECK(split_command_line(R"(echo \x)") == std::vector<std::string>{"echo", "x"});
    CHECK_THROWS_AS(split_command_line(R"(echo 'x)"), std::invalid_argument);
    CHECK_THROWS_AS(split_command_line(R"(echo x\)"), std::invalid_argument);

    TempDir dir;
    auto load = [&](const std::string& text) {
        std::ofstream(dir.file("exe.conf")) << text;
        return shovey::load_config(load_settings(dir.file("exe.conf")));
    };
    auto c = load("[shovey]\nrun_timeout = 10\n[shovey.commands]\nup = uptime -p\nboth = sh -c 'echo x; echo y >&2'\n");
    CHECK(c.run_timeout == 10);
    CHECK(c.status_interval == 30);
    CHECK(c.down_after == 2);
    CHECK(c.commands["up"] == std::vector<std::string>{"uptime", "-p"});
    CHECK(c.commands["both"] == std::vector<std::string>{"sh", "-c", "echo x; echo y >&2"});
    CHECK_THROWS_AS(load("[shovey]\nstatus_interval = 0\n"), ConfigError);
    CHECK_THROWS_AS(load("[shovey]\ndown_after = x\n"), ConfigError);
    CHECK_THROWS_AS(load("[shovey.commands]\nbad = echo 'q\n"), ConfigError);
}
