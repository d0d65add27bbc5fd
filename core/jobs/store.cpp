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

// Scripts that make a job's key from a jid they read in Redis write '@JOB@'
// for the prefix; it comes from keys.hpp, so no key is spelt twice.
std::string job_keyed(std::string lua) {
    const std::string mark = "@JOB@";
    for (size_t at = lua.find(mark); at != std::string::npos; at = lua.find(mark, at))
        lua.replace(at, mark.size(), keys::job_prefix);
    return lua;
}

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
// the checks is the old one: gone/ended, cancel requested, locks. With
// only_queued ('1'), a job another worker already runs is left alone: a
// worker that took an entry ahead (settle) may find it reclaimed by
// someone else meanwhile, and must not run it a second time. A rerun of a
// reclaimed read-only job passes ''.
// claim(first, ...): KEYS[first] job, KEYS[first + 1] events, then locks.
const char* kClaimFn = R"lua(
local function claim(first, worker, startat, jid, lease_ms, event, only_queued)
  local st = redis.call('HGET', KEYS[first], 'status')
  if not st then return {'missing'} end
  if st == 'done' or st == 'failed' or st == 'cancelled' then return {st} end
  if only_queued == '1' and st ~= 'queued' then return {st} end
  if redis.call('HGET', KEYS[first], 'cancel') == '1' then return {'cancel'} end
  local busy = take_locks(first + 2, jid, lease_ms)
  if #busy > 0 then return {'busy', busy} end
  redis.call('HSET', KEYS[first], 'status', 'running', 'state', '1', 'worker', worker, 'startat', startat)
  redis.call('XADD', KEYS[first + 1], '*', 'type', 'state', 'data', event)
  return {'ok'}
end
)lua";

// KEYS: job events [lock:<host>]...
// ARGV: worker startat jid lease_ms running_event only_queued
const Script kClaim(std::string(lua::take_locks) + kClaimFn +
                    "return claim(1, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])\n");

// A worker's last step on a queue entry: finish the job (when finish
// arguments are given), ack and delete the entry, then (optionally) claim
// the job the worker took ahead and verified, exactly as kClaim does, and
// take up to `take` new entries for the consumer with their records. The
// worker must verify a record before claiming it, so the read cannot go
// into the claim of the same job; taken one job ahead and claimed here,
// while the queue has work a job costs one round trip for its end, its
// claim and the next read together. XREADGROUP without BLOCK is allowed
// in a script. The next jobs' keys are built here because their jids are
// only known here (like kList).
// KEYS: queue [job ret events [lock:<host>]...] [job events [lock:<host>]...]
//       (finish keys: n_finish_keys of them; claim keys last: take_locks
//       runs to the end of KEYS)
// ARGV: entry_id group consumer take n_finish_keys n_finish_args
//       n_claim_args [finish(A) arguments...] [claim arguments...]
//       [host events...]: written before "end", and only when the end is
//       recorded now (a retried settle whose first reply was lost must not
//       append them after the end).
const Script kSettle(job_keyed(std::string(kFinishFn) + lua::take_locks + kClaimFn + R"lua(
local nk, na, nc = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local finished = 0
if na > 0 then
  local K, A = {}, {}
  for i = 1, nk do K[i] = KEYS[1 + i] end
  for i = 1, na do A[i] = ARGV[7 + i] end
  local st = redis.call('HGET', K[1], 'status')
  if st and st ~= 'done' and st ~= 'failed' and st ~= 'cancelled' then
    for i = 8 + na + nc, #ARGV do
      redis.call('XADD', K[3], '*', 'type', 'host', 'data', ARGV[i])
    end
  end
  finished = finish(K, A)
end
redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
local claimed = {}
if nc > 0 then
  local c = 7 + na
  claimed = claim(2 + nk, ARGV[c + 1], ARGV[c + 2], ARGV[c + 3], ARGV[c + 4], ARGV[c + 5], ARGV[c + 6])
end
local taken = {}
local n = tonumber(ARGV[4])
if ARGV[3] == '' or n < 1 then return {finished, claimed, taken} end
local got = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', n, 'STREAMS', KEYS[1], '>')
if not got then return {finished, claimed, taken} end
for _, entry in ipairs(got[1][2]) do
  local jid = ''
  local fields = entry[2] or {}
  for i = 1, #fields - 1, 2 do
    if fields[i] == 'jid' then jid = fields[i + 1] end
  end
  local record = {}
  if jid ~= '' then record = redis.call('HGETALL', '@JOB@' .. jid) end
  taken[#taken + 1] = {entry[1], jid, record}
end
return {finished, claimed, taken}
)lua"));

// One page of the index; entries whose record expired are dropped on the way.
const Script kList(job_keyed(R"lua(
local limit = tonumber(ARGV[2])
local page = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 1)
local more = #page / 2 > limit
local n = math.min(#page / 2, limit)
local out = {}
for i = 1, 2 * n, 2 do
  local key = '@JOB@' .. page[i]
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
)lua"));

// Records expire by TTL; their index entries are dropped here, oldest first,
// stopping at the first record still alive (the index is in creation order).
const Script kTrim(job_keyed(R"lua(
local oldest = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local removed = 0
for i, jid in ipairs(oldest) do
  if redis.call('EXISTS', '@JOB@' .. jid) == 1 then break end
  redis.call('ZREM', KEYS[1], jid)
  removed = removed + 1
end
return removed
)lua"));

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

// kClaimFn's KEYS and ARGV, shared by claim() and settle().
void claim_call(const ClaimRequest& c, std::vector<std::string>& ks, std::vector<std::string>& args) {
    Poco::JSON::Object ev;
    ev.set("status", status::running);
    ev.set("worker", c.worker);
    ks.push_back(keys::job(c.job->jid));
    ks.push_back(keys::events(c.job->jid));
    for (auto& h : c.job->targets) ks.push_back(keys::lock(h));
    for (auto a : {c.worker, std::to_string(c.startat), c.job->jid, std::to_string(c.lease_ms),
                   json_string(ev), std::string(c.only_queued ? "1" : "")})
        args.push_back(std::move(a));
}

Claim claim_of(const Reply& r, const Job& job) {
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

}  // namespace

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
    finish_call(jid, Ending{state, status, error, rets, {}}, hosts, only_if, ttl_, ks, args);
    return kFinish.run(pool_, ks, args).num() == 1;
}

Claim Store::claim(const Job& job, const std::string& worker, int64_t startat, int lease_ms,
                   bool only_queued) {
    std::vector<std::string> ks, args;
    claim_call(ClaimRequest{&job, worker, startat, lease_ms, only_queued}, ks, args);
    return claim_of(kClaim.run(pool_, ks, args), job);
}

Settled Store::settle(const std::string& entry_id, const std::string& jid,
                      const std::vector<std::string>& hosts, const std::optional<Ending>& end,
                      const std::string& take_for, int take, const ClaimRequest* then_claim) {
    std::vector<std::string> ks = {keys::queue}, fk, fa, ck, ca;
    if (end) finish_call(jid, *end, hosts, "", ttl_, fk, fa);
    if (then_claim) claim_call(*then_claim, ck, ca);
    std::vector<std::string> args = {entry_id, keys::group, take_for, std::to_string(take),
                                     std::to_string(fk.size()), std::to_string(fa.size()),
                                     std::to_string(ca.size())};
    ks.insert(ks.end(), fk.begin(), fk.end());
    ks.insert(ks.end(), ck.begin(), ck.end());
    args.insert(args.end(), fa.begin(), fa.end());
    args.insert(args.end(), ca.begin(), ca.end());
    if (end) args.insert(args.end(), end->events.begin(), end->events.end());
    Reply r = kSettle.run(pool_, ks, args);
    Settled out;
    if (r.items.size() != 3) return out;
    out.finished = r.items[0].num() == 1;
    if (then_claim && !r.items[1].items.empty()) out.claimed = claim_of(r.items[1], *then_claim->job);
    std::vector<Taken> taken;
    for (auto& item : r.items[2].items) {
        if (item.items.size() != 3) continue;
        Taken t;
        t.entry = {item.items[0].text(), item.items[1].text()};
        auto f = pairs_of(item.items[2]);
        if (!f.empty()) t.job = Job::from_fields(f);
        taken.push_back(std::move(t));
    }
    if (taken.size() > 0) out.next = std::move(taken[0]);
    if (taken.size() > 1) out.ahead = std::move(taken[1]);
    return out;
}

int64_t Store::count_crash(const std::string& jid) {
    Command c("HINCRBY");
    c << keys::job(jid) << "crashes" << "1";
    return pool_.run(c).num();
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

std::vector<std::pair<std::string, std::vector<Event>>> Store::events_of_many(
    const std::vector<std::pair<std::string, std::string>>& after, int count, int block_ms) {
    std::vector<std::pair<std::string, std::vector<Event>>> out;
    if (after.empty()) return out;
    Command c("XREAD");
    c << "COUNT" << std::to_string(count) << "BLOCK" << std::to_string(block_ms) << "STREAMS";
    std::map<std::string, std::string> jid_of;
    for (auto& [jid, id] : after) {
        c << keys::events(jid);
        jid_of[keys::events(jid)] = jid;
    }
    for (auto& [jid, id] : after) c << (id.empty() ? std::string("0") : id);
    auto lease = pool_.lease();
    Reply r = lease.run(c, Poco::Timespan(0, (block_ms + 5000) * 1000));
    for (auto& stream : r.items) {
        if (stream.items.size() != 2) continue;
        auto jid = jid_of.find(stream.items[0].text());
        if (jid == jid_of.end()) continue;
        std::vector<Event> events;
        for (auto& e : stream.items[1].items) {
            if (e.items.size() != 2) continue;
            auto f = pairs_of(e.items[1]);
            events.push_back({e.items[0].text(), f["type"], f["data"]});
        }
        out.emplace_back(jid->second, std::move(events));
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
