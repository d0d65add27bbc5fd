#include "jobs/store.hpp"

#include "jobs/keys.hpp"
#include "jobs/locks.hpp"
#include "jobs/script.hpp"
#include "json.hpp"

#include <Poco/JSON/Object.h>

namespace exed::jobs {

using redis::Command;
using redis::Reply;

namespace {

// Record + index entry in one step. The index score is a global sequence:
// exact creation order, unique, so it is an exact pagination cursor (a
// time-based score ties within a millisecond).
const Script kCreate(R"lua(
local score = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], score, ARGV[2])
return score
)lua");

// finish(K, A): K = job ret events [lock:<host>]...
// A = state status error finished ttl end_event only_if jid [host json]...
// The job's host locks go in the same step as the "end" event: a client
// that reacts to "end" must find the hosts free. A function over tables
// rather than KEYS/ARGV so that the worker's settle script reuses it.
const char* kFinishFn = R"lua(
local function finish(K, A)
  local st = redis.call('HGET', K[1], 'status')
  if not st then return 0 end
  if st == 'done' or st == 'failed' or st == 'cancelled' then return 0 end
  if A[7] ~= '' and st ~= A[7] then return 0 end
  redis.call('HSET', K[1], 'state', A[1], 'status', A[2], 'error', A[3], 'finished', A[4])
  if #A > 8 then redis.call('HSET', K[2], unpack(A, 9)) end
  for i = 4, #K do
    if redis.call('GET', K[i]) == A[8] then redis.call('DEL', K[i]) end
  end
  redis.call('XADD', K[3], '*', 'type', 'end', 'data', A[6])
  for i = 1, 3 do redis.call('EXPIRE', K[i], A[5]) end
  return 1
end
)lua";

const Script kFinish(std::string(kFinishFn) + "return finish(KEYS, ARGV)\n");

// A worker's first step on a job it has read and whose signature it has
// verified (it verifies before this, so a forged record is never marked
// running nor given locks). What run_entry did in three round trips
// (start, re-acquire, "running" event) is one atomic step; the order of
// the checks is the old one: gone/ended, cancel requested, locks.
// KEYS: job events [lock:<host>]...  ARGV: worker startat jid lease_ms running_event
const Script kClaim(std::string(lua::take_locks) + R"lua(
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing'} end
if st == 'done' or st == 'failed' or st == 'cancelled' then return {st} end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then return {'cancel'} end
local busy = take_locks(3, ARGV[3], ARGV[4])
if #busy > 0 then return {'busy', busy} end
redis.call('HSET', KEYS[1], 'status', 'running', 'state', '1', 'worker', ARGV[1], 'startat', ARGV[2])
redis.call('XADD', KEYS[2], '*', 'type', 'state', 'data', ARGV[5])
return {'ok'}
)lua");

// A worker's last step on a queue entry: finish the job (when ARGV[4] is
// '1'), ack and delete the entry, and (when ARGV[3] names the consumer)
// take that worker's next new entry and read its record. The worker must
// verify a record before claiming it, so the read cannot go into the claim
// script; done here, it costs no round trip of its own while the queue
// has work. XREADGROUP without BLOCK is allowed in a script. The next
// job's key is built here because its jid is only known here (like kList).
// KEYS: queue [job ret events [lock:<host>]...]
// ARGV: entry_id group consumer finish? [finish(A) arguments...]
const Script kSettle(std::string(kFinishFn) + R"lua(
local finished = 0
if ARGV[4] == '1' then
  local K, A = {}, {}
  for i = 2, #KEYS do K[i - 1] = KEYS[i] end
  for i = 5, #ARGV do A[i - 4] = ARGV[i] end
  finished = finish(K, A)
end
redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
if ARGV[3] == '' then return {finished} end
local got = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
if not got then return {finished} end
local entry = got[1][2][1]
local jid = ''
local fields = entry[2] or {}
for i = 1, #fields - 1, 2 do
  if fields[i] == 'jid' then jid = fields[i + 1] end
end
if jid == '' then return {finished, entry[1], jid, {}} end
return {finished, entry[1], jid, redis.call('HGETALL', 'exed:job:' .. jid)}
)lua");

// One page of the index; entries whose record expired are dropped on the way.
const Script kList(R"lua(
local limit = tonumber(ARGV[2])
local page = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 1)
local more = #page / 2 > limit
local n = math.min(#page / 2, limit)
local out = {}
for i = 1, 2 * n, 2 do
  local key = 'exed:job:' .. page[i]
  if redis.call('EXISTS', key) == 1 then
    local rec = {}
    if ARGV[3] == '1' then rec = redis.call('HGETALL', key) end
    table.insert(out, {page[i], page[i + 1], rec})
  else
    redis.call('ZREM', KEYS[1], page[i])
  end
end
local last = ''
if more then last = page[2 * n] end
return {last, out}
)lua");

// Records expire by TTL; their index entries are dropped here, oldest first,
// stopping at the first record still alive (the index is in creation order).
const Script kTrim(R"lua(
local oldest = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local removed = 0
for i, jid in ipairs(oldest) do
  if redis.call('EXISTS', 'exed:job:' .. jid) == 1 then break end
  redis.call('ZREM', KEYS[1], jid)
  removed = removed + 1
end
return removed
)lua");

int64_t now_s() { return int64_t(time(nullptr)); }

// finish()'s KEYS and ARGV (kFinishFn), shared by finish() and settle().
void finish_call(const std::string& jid, const Ending& end, const std::vector<std::string>& hosts,
                 const std::string& only_if, int ttl, std::vector<std::string>& ks,
                 std::vector<std::string>& args) {
    Poco::JSON::Object ev;
    ev.set("state", end.state);
    ev.set("status", end.status);
    ev.set("error", end.error);
    for (auto k : {keys::job(jid), keys::returns(jid), keys::events(jid)}) ks.push_back(k);
    for (auto& h : hosts) ks.push_back(keys::lock(h));
    for (auto a : {std::to_string(end.state), end.status, end.error, std::to_string(now_s()),
                   std::to_string(ttl), json_string(ev), only_if, jid})
        args.push_back(std::move(a));
    for (auto& [host, json] : end.returns) {
        args.push_back(host);
        args.push_back(json);
    }
}

}  // namespace

std::map<std::string, std::string> pairs_of(const Reply& r) {
    std::map<std::string, std::string> out;
    for (size_t i = 0; i + 1 < r.items.size(); i += 2) out[r.items[i].text()] = r.items[i + 1].text();
    return out;
}

void Store::create(const Job& job) {
    std::vector<std::string> args = {std::to_string(job.created_ms), job.jid};
    for (auto& [k, v] : job.to_fields()) {
        args.push_back(k);
        args.push_back(v);
    }
    kCreate.run(pool_, {keys::job(job.jid), keys::index, keys::seq}, args);
}

std::optional<Job> Store::get(const std::string& jid) {
    Command c("HGETALL");
    c << keys::job(jid);
    auto f = pairs_of(pool_.run(c));
    if (f.empty()) return std::nullopt;
    return Job::from_fields(f);
}

std::string Store::status(const std::string& jid) {
    Command c("HGET");
    c << keys::job(jid) << "status";
    return pool_.run(c).text();
}

std::map<std::string, std::string> Store::returns(const std::string& jid) {
    Command c("HGETALL");
    c << keys::returns(jid);
    return pairs_of(pool_.run(c));
}

bool Store::finish(const std::string& jid, int state, const std::string& status,
                   const std::string& error, const std::map<std::string, std::string>& rets,
                   const std::vector<std::string>& hosts, const std::string& only_if) {
    std::vector<std::string> ks, args;
    finish_call(jid, Ending{state, status, error, rets}, hosts, only_if, ttl_, ks, args);
    return kFinish.run(pool_, ks, args).num() == 1;
}

Claim Store::claim(const Job& job, const std::string& worker, int64_t startat, int lease_ms) {
    Poco::JSON::Object ev;
    ev.set("status", status::running);
    ev.set("worker", worker);
    std::vector<std::string> ks = {keys::job(job.jid), keys::events(job.jid)};
    for (auto& h : job.targets) ks.push_back(keys::lock(h));
    Reply r = kClaim.run(pool_, ks, {worker, std::to_string(startat), job.jid,
                                     std::to_string(lease_ms), json_string(ev)});
    Claim out;
    if (r.items.empty()) return out;
    out.outcome = r.items[0].text();
    if (r.items.size() > 1)
        for (auto& i : r.items[1].items) {
            auto n = size_t(i.num());
            if (n >= 1 && n <= job.targets.size()) out.busy.push_back(job.targets[n - 1]);
        }
    return out;
}

Settled Store::settle(const std::string& entry_id, const std::string& jid,
                      const std::vector<std::string>& hosts, const std::optional<Ending>& end,
                      const std::string& take_for) {
    std::vector<std::string> ks = {keys::queue};
    std::vector<std::string> args = {entry_id, keys::group, take_for, end ? "1" : ""};
    if (end) finish_call(jid, *end, hosts, "", ttl_, ks, args);
    Reply r = kSettle.run(pool_, ks, args);
    Settled out;
    if (r.items.empty()) return out;
    out.finished = r.items[0].num() == 1;
    if (r.items.size() == 4) {
        Taken t;
        t.entry = {r.items[1].text(), r.items[2].text()};
        auto f = pairs_of(r.items[3]);
        if (!f.empty()) t.job = Job::from_fields(f);
        out.next = std::move(t);
    }
    return out;
}

void Store::request_cancel(const std::string& jid) {
    Command c("HSET");
    c << keys::job(jid) << "cancel" << "1";
    pool_.run(c);
}

bool Store::cancel_requested(const std::string& jid) {
    Command c("HGET");
    c << keys::job(jid) << "cancel";
    return pool_.run(c).text() == "1";
}

std::string Store::append_event(const std::string& jid, const std::string& type,
                                const std::string& data) {
    Command c("XADD");
    c << keys::events(jid) << "*" << "type" << type << "data" << data;
    return pool_.run(c).text();
}

std::vector<Event> Store::events(const std::string& jid, const std::string& after_id, int count,
                                 int block_ms) {
    Reply entries;
    if (block_ms > 0) {
        Command c("XREAD");
        c << "COUNT" << std::to_string(count) << "BLOCK" << std::to_string(block_ms) << "STREAMS"
          << keys::events(jid) << (after_id.empty() ? "0" : after_id);
        auto lease = pool_.lease();
        Reply r = lease.run(c, Poco::Timespan(0, (block_ms + 5000) * 1000));
        if (!r.nil() && !r.items.empty() && r.items[0].items.size() == 2)
            entries = r.items[0].items[1];
    } else {
        Command c("XRANGE");
        c << keys::events(jid) << "(" + (after_id.empty() ? std::string("0") : after_id) << "+"
          << "COUNT" << std::to_string(count);
        entries = pool_.run(c);
    }
    std::vector<Event> out;
    for (auto& e : entries.items) {
        if (e.items.size() != 2) continue;
        auto f = pairs_of(e.items[1]);
        out.push_back({e.items[0].text(), f["type"], f["data"]});
    }
    return out;
}

Page Store::list(int limit, const std::string& cursor, bool details) {
    std::string max = cursor.empty() ? "+inf" : "(" + cursor;
    Reply r = kList.run(pool_, {keys::index}, {max, std::to_string(limit), details ? "1" : "0"});
    Page page;
    if (r.items.size() != 2) return page;
    page.next_cursor = r.items[0].text();
    for (auto& item : r.items[1].items) {
        Job j;
        if (details && item.items.size() == 3) j = Job::from_fields(pairs_of(item.items[2]));
        j.jid = item.items[0].text();
        page.jobs.push_back(std::move(j));
    }
    return page;
}

bool Store::remove(const std::string& jid) {
    Command del("DEL");
    del << keys::job(jid) << keys::returns(jid) << keys::events(jid);
    bool existed = pool_.run(del).num() > 0;
    Command zrem("ZREM");
    zrem << keys::index << jid;
    pool_.run(zrem);
    return existed;
}

int Store::trim_index(int batch) {
    Reply r = kTrim.run(pool_, {keys::index}, {std::to_string(batch)});
    return int(r.num());
}

}  // namespace exed::jobs
