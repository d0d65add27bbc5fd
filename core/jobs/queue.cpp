#include "jobs/queue.hpp"

#include "jobs/keys.hpp"
#include "jobs/script.hpp"
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

// Lists and deletes in one script so that nothing can reach a consumer
// between the check and the delete: XGROUP DELCONSUMER drops the
// consumer's pending entries from the group, and an entry dropped that way
// is never redelivered nor reclaimed (its job would stay queued forever).
// Fields are read by name: Redis 7.2 adds `inactive` to the reply.
// KEYS: queue  ARGV: group min_idle_ms max [keep]...
const Script kForgetIdle(R"lua(
local keep = {}
for i = 4, #ARGV do keep[ARGV[i]] = true end
local min_idle, max = tonumber(ARGV[2]), tonumber(ARGV[3])
local gone = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  if #gone >= max then break end
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f.pending == 0 and f.idle > min_idle and not keep[f.name] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f.name)
    gone[#gone + 1] = f.name
  end
end
return gone
)lua");
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

std::vector<ConsumerInfo> Queue::consumers() {
    Command c("XINFO");
    c << "CONSUMERS" << keys::queue << keys::group;
    std::vector<ConsumerInfo> out;
    for (auto& item : pool_.run(c).items) {
        ConsumerInfo info;
        for (size_t i = 0; i + 1 < item.items.size(); i += 2) {
            const auto& k = item.items[i].str;
            if (k == "name") info.name = item.items[i + 1].text();
            else if (k == "pending") info.pending = item.items[i + 1].num();
            else if (k == "idle") info.idle_ms = item.items[i + 1].num();
        }
        out.push_back(std::move(info));
    }
    return out;
}

std::vector<std::string> Queue::forget_idle_consumers(int64_t min_idle_ms,
                                                      const std::vector<std::string>& keep, int max) {
    std::vector<std::string> args{keys::group, std::to_string(min_idle_ms), std::to_string(max)};
    args.insert(args.end(), keep.begin(), keep.end());
    std::vector<std::string> gone;
    for (auto& name : kForgetIdle.run(pool_, {keys::queue}, args).items) gone.push_back(name.text());
    return gone;
}

}  // namespace exed::jobs
