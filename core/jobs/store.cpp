#include "jobs/store.hpp"

#include "jobs/keys.hpp"

namespace exed::jobs {

using redis::Command;
using redis::Reply;

namespace {

// Record + index entry in one step. The index score is a global sequence:
// exact creation order, unique, so it is an exact pagination cursor (a
// time-based score ties within a millisecond).
const char* kCreate = R"lua(
local score = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], score, ARGV[2])
return score
)lua";

const char* kStart = R"lua(
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'missing' end
if st == 'done' or st == 'failed' or st == 'cancelled' then return st end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then return 'cancel' end
redis.call('HSET', KEYS[1], 'status', 'running', 'state', '1', 'worker', ARGV[1], 'startat', ARGV[2])
return 'ok'
)lua";

// KEYS: job ret events [lock:<host>]...
// ARGV: state status error finished ttl end_event only_if jid [host json]...
// The job's host locks go in the same step as the "end" event: a client
// that reacts to "end" must find the hosts free.
const char* kFinish = R"lua(
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 0 end
if st == 'done' or st == 'failed' or st == 'cancelled' then return 0 end
if ARGV[7] ~= '' and st ~= ARGV[7] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'status', ARGV[2], 'error', ARGV[3], 'finished', ARGV[4])
if #ARGV > 8 then redis.call('HSET', KEYS[2], unpack(ARGV, 9)) end
for i = 4, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[8] then redis.call('DEL', KEYS[i]) end
end
redis.call('XADD', KEYS[3], '*', 'type', 'end', 'data', ARGV[6])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
return 1
)lua";

// One page of the index; entries whose record expired are dropped on the way.
const char* kList = R"lua(
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
)lua";

// Records expire by TTL; their index entries are dropped here, oldest first,
// stopping at the first record still alive (the index is in creation order).
const char* kTrim = R"lua(
local oldest = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local removed = 0
for i, jid in ipairs(oldest) do
  if redis.call('EXISTS', 'exed:job:' .. jid) == 1 then break end
  redis.call('ZREM', KEYS[1], jid)
  removed = removed + 1
end
return removed
)lua";

Command eval(const char* script, const std::vector<std::string>& keys,
             const std::vector<std::string>& args) {
    Command c("EVAL");
    c << script << std::to_string(keys.size());
    for (auto& k : keys) c << k;
    for (auto& a : args) c << a;
    return c;
}

int64_t now_s() { return int64_t(time(nullptr)); }

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
    pool_.run(eval(kCreate, {keys::job(job.jid), keys::index, keys::seq}, args));
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

std::string Store::start(const std::string& jid, const std::string& worker, int64_t startat) {
    return pool_.run(eval(kStart, {keys::job(jid)}, {worker, std::to_string(startat)})).text();
}

bool Store::finish(const std::string& jid, int state, const std::string& status,
                   const std::string& error, const std::map<std::string, std::string>& rets,
                   const std::vector<std::string>& hosts, const std::string& only_if) {
    Poco::JSON::Object end;
    end.set("state", state);
    end.set("status", status);
    end.set("error", error);
    std::vector<std::string> args = {std::to_string(state), status,      error,
                                     std::to_string(now_s()), std::to_string(ttl_),
                                     json_string(end),        only_if,
                                     jid};
    for (auto& [host, json] : rets) {
        args.push_back(host);
        args.push_back(json);
    }
    std::vector<std::string> ks = {keys::job(jid), keys::returns(jid), keys::events(jid)};
    for (auto& h : hosts) ks.push_back(keys::lock(h));
    auto r = pool_.run(eval(kFinish, ks, args));
    return r.num() == 1;
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
    Reply r = pool_.run(eval(kList, {keys::index}, {max, std::to_string(limit), details ? "1" : "0"}));
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
    Reply r = pool_.run(eval(kTrim, {keys::index}, {std::to_string(batch)}));
    return int(r.num());
}

}  // namespace exed::jobs
