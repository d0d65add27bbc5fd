#include "jobs/queue.hpp"

#include "jobs/keys.hpp"
#include "jobs/store.hpp"

namespace exed::jobs {

using redis::Command;
using redis::Reply;

namespace {
std::vector<QueueEntry> entries_of(const Reply& list) {
    std::vector<QueueEntry> out;
    for (auto& e : list.items) {
        if (e.items.size() != 2 || e.items[1].nil()) continue;  // deleted meanwhile
        out.push_back({e.items[0].text(), pairs_of(e.items[1])["jid"]});
    }
    return out;
}
}  // namespace

void Queue::ensure_group() {
    Command c("XGROUP");
    c << "CREATE" << keys::queue << keys::group << "0" << "MKSTREAM";
    try {
        pool_.run(c);
    } catch (const redis::ReplyError& e) {
        if (std::string(e.what()).find("BUSYGROUP") == std::string::npos) throw;
    }
}

int64_t Queue::backlog() {
    Command c("XLEN");
    c << keys::queue;
    return pool_.run(c).num();
}

std::string Queue::push(const std::string& jid) {
    Command c("XADD");
    c << keys::queue << "*" << "jid" << jid;
    return pool_.run(c).text();
}

std::optional<QueueEntry> Queue::next(const std::string& consumer, int block_ms) {
    Command c("XREADGROUP");
    c << "GROUP" << keys::group << consumer << "COUNT" << "1" << "BLOCK"
      << std::to_string(block_ms) << "STREAMS" << keys::queue << ">";
    auto lease = pool_.lease();
    Reply r = lease.run(c, Poco::Timespan(0, (block_ms + 5000) * 1000));
    if (r.nil() || r.items.empty() || r.items[0].items.size() != 2) return std::nullopt;
    auto entries = entries_of(r.items[0].items[1]);
    if (entries.empty()) return std::nullopt;
    return entries.front();
}

void Queue::heartbeat(const std::string& consumer, const std::string& id) {
    Command c("XCLAIM");
    c << keys::queue << keys::group << consumer << "0" << id << "JUSTID";
    pool_.run(c);
}

std::vector<QueueEntry> Queue::reclaim(const std::string& consumer, int min_idle_ms, int count) {
    Command c("XAUTOCLAIM");
    c << keys::queue << keys::group << consumer << std::to_string(min_idle_ms) << "0-0" << "COUNT"
      << std::to_string(count);
    Reply r = pool_.run(c);
    if (r.items.size() < 2) return {};
    return entries_of(r.items[1]);
}

}  // namespace exed::jobs
