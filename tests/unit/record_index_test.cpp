// RecordIndex (jobs/record_index.hpp) against a real redis-server (exed's
// embedded one in a temp dir): creation order, pages, cursors, TTL, the
// self-cleaning listing, trim and remove.
#include "jobs/record_index.hpp"
#include "redis/embedded.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <set>

using namespace exed;

namespace {

struct Fixture {
    test::TempDir dir;
    redis::EmbeddedServer server{dir.path()};
    std::unique_ptr<redis::Pool> pool;
    // Keys of a test store of its own, tagged as the contract asks.
    jobs::RecordIndex records;
    Fixture() : records(make(), "test:{idx}:index", "test:{idx}:seq", key_of) {}
    redis::Pool& make() {
        server.start();
        pool = std::make_unique<redis::Pool>(redis::Url::unix_socket_at(server.socket_path()), 4);
        return *pool;
    }
    static std::string key_of(const std::string& id) { return "test:{" + id + "}:rec"; }
    redis::Reply run(std::initializer_list<std::string> words) {
        auto it = words.begin();
        redis::Command c(*it++);
        for (; it != words.end(); ++it) c << *it;
        return pool->run(c);
    }
};

std::vector<std::string> ids_of(const jobs::RecordIndex::Listing& l) {
    std::vector<std::string> out;
    for (auto& e : l.entries) out.push_back(e.id);
    return out;
}

}  // namespace

TEST_CASE("record index: records listed newest first, with their fields, by exact cursors") {
    Fixture f;
    for (int i = 1; i <= 5; ++i)
        CHECK(f.records.create("r" + std::to_string(i), {{"n", std::to_string(i)}, {"x", "y"}}) == i);
    auto p1 = f.records.list(2, "", true);
    CHECK(ids_of(p1) == std::vector<std::string>{"r5", "r4"});
    CHECK(p1.entries[0].fields.at("n") == "5");
    CHECK(p1.entries[0].score == 5);
    CHECK(p1.next_cursor == "4");
    auto p2 = f.records.list(2, p1.next_cursor, false);
    CHECK(ids_of(p2) == std::vector<std::string>{"r3", "r2"});
    CHECK(p2.entries[0].fields.empty());  // not asked for
    auto p3 = f.records.list(2, p2.next_cursor, false);
    CHECK(ids_of(p3) == std::vector<std::string>{"r1"});
    CHECK(p3.next_cursor.empty());
    // No TTL unless asked; with one, the record gets it.
    CHECK(f.run({"TTL", Fixture::key_of("r1")}).num() == -1);
    f.records.create("t", {{"n", "6"}}, 100);
    auto ttl = f.run({"TTL", Fixture::key_of("t")}).num();
    CHECK((ttl > 0 && ttl <= 100));
}

TEST_CASE("record index: an exactly full last page hands out no cursor") {
    // The Shovey store's copy of the listing (#ids/2 == limit) gave a cursor
    // here, and the next page was empty.
    Fixture f;
    for (int i = 1; i <= 4; ++i) f.records.create("r" + std::to_string(i), {{"n", "1"}});
    auto p1 = f.records.list(2, "", false);
    CHECK(p1.next_cursor == "3");
    auto p2 = f.records.list(2, p1.next_cursor, false);
    CHECK(ids_of(p2) == std::vector<std::string>{"r2", "r1"});
    CHECK(p2.next_cursor.empty());
    CHECK(f.records.list(4, "", false).next_cursor.empty());
    CHECK(f.records.list(0, "", false).entries.empty());  // nothing asked, nothing read
}

TEST_CASE("record index: records gone leave the index when listed, trimmed or removed") {
    Fixture f;
    for (int i = 1; i <= 6; ++i) f.records.create("r" + std::to_string(i), {{"n", "1"}});
    for (auto id : {"r5", "r1", "r2"}) f.run({"DEL", Fixture::key_of(id)});  // as if expired (one slot each)
    auto page = f.records.list(3, "", true);
    CHECK(ids_of(page) == std::vector<std::string>{"r6", "r4"});  // r5 dropped on the way
    CHECK(page.next_cursor == "4");
    CHECK(f.run({"ZSCORE", "test:{idx}:index", "r5"}).nil());
    // Trim drops the oldest dead ones and stops at the first alive (r3).
    CHECK(f.records.trim(10) == 2);
    CHECK(f.run({"ZCARD", "test:{idx}:index"}).num() == 3);
    CHECK(f.records.trim(10) == 0);
    // Remove: the record, its companions, its entry; false once gone.
    f.run({"SET", "test:{r4}:extra", "1"});
    CHECK(f.records.remove("r4", {"test:{r4}:extra"}));
    CHECK(f.run({"EXISTS", Fixture::key_of("r4"), "test:{r4}:extra"}).num() == 0);
    CHECK(f.run({"ZSCORE", "test:{idx}:index", "r4"}).nil());
    CHECK_FALSE(f.records.remove("r4"));
    CHECK(ids_of(f.records.list(10, "", false)) == std::vector<std::string>{"r6", "r3"});
}

TEST_CASE("record index: pages through many records without gaps or repeats") {
    Fixture f;
    const int n = 1000;
    for (int i = 0; i < n; ++i) f.records.create("r" + std::to_string(i), {{"n", "1"}});
    std::set<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
        auto page = f.records.list(100, cursor, false);
        for (auto& e : page.entries) CHECK(seen.insert(e.id).second);
        cursor = page.next_cursor;
        ++pages;
    } while (!cursor.empty() && pages < 20);
    CHECK(seen.size() == size_t(n));
    CHECK(pages == 10);  // 10 full pages, no empty 11th
}
