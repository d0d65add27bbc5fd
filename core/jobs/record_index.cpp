#include "jobs/record_index.hpp"

#include "jobs/script.hpp"

namespace exed::jobs {

using redis::Command;
using redis::Reply;

namespace {

// The index entry: the sequence number and the entry in one step (one slot).
// KEYS: index seq  ARGV: id
const Script kIndex(R"lua(
local score = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], score, ARGV[1])
return score
)lua");

}  // namespace

std::map<std::string, std::string> pairs_of(const Reply& r) {
    std::map<std::string, std::string> out;
    for (size_t i = 0; i + 1 < r.items.size(); i += 2) out[r.items[i].text()] = r.items[i + 1].text();
    return out;
}

int64_t RecordIndex::create(const std::string& id, const Fields& fields, int ttl_s) {
    const std::string record = record_key_of_(id);
    Command hset("HSET");
    hset << record;
    for (auto& [k, v] : fields) hset << k << v;
    Steps steps;
    steps.add(hset);
    if (ttl_s > 0) {
        Command expire("EXPIRE");
        expire << record << std::to_string(ttl_s);
        steps.add(expire);
    }
    steps.add(kIndex, {index_, seq_}, {id});
    return steps.run(pool_).back().num();
}

RecordIndex::Listing RecordIndex::list(int limit, const std::string& cursor, bool with_fields) {
    Listing out;
    if (limit < 1) return out;
    // One more than the page: whether older entries remain.
    Command range("ZREVRANGEBYSCORE");
    range << index_ << (cursor.empty() ? "+inf" : "(" + cursor) << "-inf" << "WITHSCORES" << "LIMIT"
          << "0" << std::to_string(limit + 1);
    Reply page = pool_.run(range);
    size_t found = page.items.size() / 2;
    size_t n = std::min(found, size_t(limit));
    if (n == 0) return out;
    Steps reads;
    for (size_t i = 0; i < n; ++i) {
        Command c(with_fields ? "HGETALL" : "EXISTS");
        c << record_key_of_(page.items[2 * i].text());
        reads.add(c);
    }
    auto records = reads.run(pool_);
    Command zrem("ZREM");
    zrem << index_;
    bool gone = false;
    for (size_t i = 0; i < n; ++i) {
        const std::string id = page.items[2 * i].text();
        bool alive = with_fields ? !records[i].items.empty() : records[i].num() == 1;
        if (!alive) {
            zrem << id;
            gone = true;
            continue;
        }
        Entry e{id, page.items[2 * i + 1].num(), {}};
        if (with_fields) e.fields = pairs_of(records[i]);
        out.entries.push_back(std::move(e));
    }
    // A record read as gone here stays gone (expired or removed): dropping
    // its entry later than the read is harmless.
    if (gone) pool_.run(zrem);
    if (found > n) out.next_cursor = page.items[2 * n - 1].text();
    return out;
}

int RecordIndex::trim(int batch) {
    if (batch < 1) return 0;
    Command range("ZRANGE");
    range << index_ << "0" << std::to_string(batch - 1);
    Reply oldest = pool_.run(range);
    if (oldest.items.empty()) return 0;
    Steps exists;
    for (auto& id : oldest.items) {
        Command c("EXISTS");
        c << record_key_of_(id.text());
        exists.add(c);
    }
    auto alive = exists.run(pool_);
    Command zrem("ZREM");
    zrem << index_;
    int removed = 0;
    for (size_t i = 0; i < oldest.items.size() && alive[i].num() == 0; ++i, ++removed)
        zrem << oldest.items[i].text();
    if (removed > 0) pool_.run(zrem);
    return removed;
}

bool RecordIndex::remove(const std::string& id, const std::vector<std::string>& with) {
    Command del("DEL");
    del << record_key_of_(id);
    for (auto& k : with) del << k;
    Command zrem("ZREM");
    zrem << index_ << id;
    auto r = Steps().add(del).add(zrem).run(pool_);
    return r[0].num() > 0;
}

}  // namespace exed::jobs
