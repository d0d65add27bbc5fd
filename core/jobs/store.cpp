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

// Each script below touches one job's keys only (one slot). The locks, the
// queue and the index are other slots: those steps are pipelined beside
// these (docs/architecture.md, "Redis keys", says why each is safe to
// repeat). Statuses come from the prologue (FINAL, QUEUED, RUNNING).

// Ends the job once: fields, per-host results, the "host" events the plugin
// emitted (only when the end is recorded now: a retried settle whose first
// reply was lost must not append them after the end), the "end" event, and
// the TTL. The "state" field is not written: it follows from status.
// KEYS: job ret events
// ARGV: status error finished ttl end_event only_if n_returns
//       [host json]... (n_returns words) [host event]...
const Script kFinish = Script::with_statuses(R"lua(
local st = redis.call('HGET', KEYS[1], 'status')
if not st or FINAL[st] then return 0 end
if ARGV[6] ~= '' and st ~= ARGV[6] then return 0 end
local nr = tonumber(ARGV[7])
for i = 8 + nr, #ARGV do redis.call('XADD', KEYS[3], '*', 'type', 'host', 'data', ARGV[i]) end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[2], 'finished', ARGV[3])
if nr > 0 then redis.call('HSET', KEYS[2], unpack(ARGV, 8, 7 + nr)) end
redis.call('XADD', KEYS[3], '*', 'type', 'end', 'data', ARGV[5])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return 1
)lua");

// Why a worker may not start the job: gone, ended, already running when
// only_queued ('1': a worker that took an entry ahead may find it
// reclaimed by someone else meanwhile, and must not run it a second time),
// or cancel requested; '' when it may. The order is the outcome precedence.
const char* const kRefusal = R"lua(
local function refusal(only_queued)
  local st = redis.call('HGET', KEYS[1], 'status')
  if not st then return 'missing' end
  if FINAL[st] then return st end
  if only_queued == '1' and st ~= QUEUED then return st end
  if redis.call('HGET', KEYS[1], 'cancel') == '1' then return 'cancel' end
  return ''
end
)lua";

// A claim's first step, read only: pipelined with the take of the locks.
// KEYS: job  ARGV: only_queued
const Script kCheck = Script::with_statuses(std::string(kRefusal) + "return refusal(ARGV[1])\n");

// A claim's last step, once the locks are held: the same checks again (the
// job may have moved since), then running by `worker`, with its event.
// KEYS: job events  ARGV: only_queued worker startat running_event
const Script kMark = Script::with_statuses(std::string(kRefusal) + R"lua(
local why = refusal(ARGV[1])
if why ~= '' then return why end
redis.call('HSET', KEYS[1], 'status', RUNNING, 'worker', ARGV[2], 'startat', ARGV[3])
redis.call('XADD', KEYS[2], '*', 'type', 'state', 'data', ARGV[4])
return ''
)lua");

// A worker's queue step: ack and delete its entry, then take up to n new
// entries for the consumer without waiting (XREADGROUP without BLOCK is
// allowed in a script). Returns {{entry id, jid}...}.
// KEYS: queue  ARGV: entry_id group consumer n
const Script kQueueStep(R"lua(
redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
local taken = {}
local n = tonumber(ARGV[4])
if ARGV[3] == '' or n < 1 then return taken end
local got = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', n, 'STREAMS', KEYS[1], '>')
if not got then return taken end
for _, entry in ipairs(got[1][2]) do
  local jid = ''
  local fields = entry[2] or {}
  for i = 1, #fields - 1, 2 do
    if fields[i] == 'jid' then jid = fields[i + 1] end
  end
  taken[#taken + 1] = {entry[1], jid}
end
return taken
)lua");

int64_t now_s() { return int64_t(time(nullptr)); }

void add_finish(Steps& steps, const std::string& jid, const Ending& end, const std::string& only_if,
                int ttl) {
    Poco::JSON::Object ev;
    ev.set("state", end.state);
    ev.set("status", end.status);
    ev.set("error", end.error);
    std::vector<std::string> args = {end.status, end.error, std::to_string(now_s()), std::to_string(ttl),
                                     json_string(ev), only_if, std::to_string(2 * end.returns.size())};
    for (auto& [host, json] : end.returns) {
        args.push_back(host);
        args.push_back(json);
    }
    args.insert(args.end(), end.events.begin(), end.events.end());
    steps.add(kFinish, {keys::job(jid), keys::returns(jid), keys::events(jid)}, std::move(args));
}

// A claim in three steps: [check + take] (pipelined, maybe behind a settle's
// steps), then [mark] when both allowed it, then a release of the locks
// this claim took fresh when the job turned out not to be startable (so
// nothing changes unless the outcome is "ok"; locks the job held already,
// e.g. from its submit, stay as they were).
struct ClaimSteps {
    const ClaimRequest& c;
    size_t check = 0, take = 0;

    void first(Steps& steps) {
        check = steps.size();
        steps.add(kCheck, {keys::job(c.job->jid)}, {c.only_queued ? "1" : ""});
        take = steps.size();
        Locks::take(steps, c.job->targets, c.job->jid, c.lease_ms);
    }
    // The outcome so far ("" = mark it), and adds the mark when it is "".
    Claim after_first(const std::vector<Reply>& r, Steps& next, Locks::Take& taken) {
        Claim out;
        taken = Locks::taken_of(r[take], c.job->targets);
        out.outcome = r[check].text();
        if (out.outcome.empty() && !taken.busy.empty()) {
            out.outcome = "busy";
            out.busy = taken.busy;
        }
        if (!out.outcome.empty()) return out;
        Poco::JSON::Object ev;
        ev.set("status", status::running);
        ev.set("worker", c.worker);
        next.add(kMark, {keys::job(c.job->jid), keys::events(c.job->jid)},
                 {c.only_queued ? "1" : "", c.worker, std::to_string(c.startat), json_string(ev)});
        return out;
    }
    Claim end(redis::Pool& pool, Claim out, const Reply* mark, const Locks::Take& taken) {
        if (mark) out.outcome = mark->text().empty() ? "ok" : mark->text();
        if (out.outcome != "ok" && out.outcome != "busy" && !taken.fresh.empty())
            Locks(pool).release(taken.fresh, c.job->jid);
        return out;
    }
};

}  // namespace

Store::Store(redis::Pool& pool, int job_ttl)
    : pool_(pool), ttl_(job_ttl), records_(pool, keys::index, keys::seq, [](const std::string& jid) {
          return keys::job(jid);
      }) {}

void Store::create(const Job& job) {
    auto fields = job.to_fields();
    records_.create(job.jid, RecordIndex::Fields(fields.begin(), fields.end()));
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
    // The locks go before the "end" event: a client that reacts to "end"
    // must find the hosts free. With only_if, the status is checked first
    // so that the locks of a job that moved on (claimed: running) stay; the
    // caller (a cancel of a queued job) has requested the cancel before, so
    // no claim can mark the job running after this check (kMark refuses).
    if (!only_if.empty() && this->status(jid) != only_if) return false;
    Steps steps;
    if (!hosts.empty()) Locks::release(steps, hosts, jid);
    add_finish(steps, jid, Ending{state, status, error, rets, {}}, only_if, ttl_);
    return steps.run(pool_).back().num() == 1;
}

Claim Store::claim(const Job& job, const std::string& worker, int64_t startat, int lease_ms,
                   bool only_queued) {
    ClaimRequest req{&job, worker, startat, lease_ms, only_queued};
    ClaimSteps claim{req};
    Steps first, mark;
    claim.first(first);
    Locks::Take taken;
    Claim out = claim.after_first(first.run(pool_), mark, taken);
    if (mark.size() == 0) return claim.end(pool_, out, nullptr, taken);
    auto r = mark.run(pool_);
    return claim.end(pool_, out, &r[0], taken);
}

Settled Store::settle(const std::string& entry_id, const std::string& jid,
                      const std::vector<std::string>& hosts, const std::optional<Ending>& end,
                      const std::string& take_for, int take, const ClaimRequest* then_claim) {
    // Round trip 1, in this order: the ended job's locks, its end, the queue
    // (ack, delete, take), the next job's check and locks (after the
    // release: it may want the same hosts). Round trip 2: the taken jobs'
    // records and the next job's mark.
    Steps first;
    size_t finish_at = 0;
    if (end) {
        if (!hosts.empty()) Locks::release(first, hosts, jid);
        finish_at = first.size();
        add_finish(first, jid, *end, "", ttl_);
    }
    size_t queue_at = first.size();
    first.add(kQueueStep, {keys::queue}, {entry_id, keys::group, take_for, std::to_string(take)});
    std::optional<ClaimSteps> claim;
    if (then_claim) {
        claim.emplace(ClaimSteps{*then_claim});
        claim->first(first);
    }
    auto r1 = first.run(pool_);

    Settled out;
    out.finished = end && r1[finish_at].num() == 1;
    Steps second;
    std::vector<Taken> taken;
    for (auto& item : r1[queue_at].items) {
        if (item.items.size() != 2) continue;
        taken.push_back(Taken{{item.items[0].text(), item.items[1].text()}, std::nullopt});
        Command c("HGETALL");
        c << keys::job(taken.back().entry.jid);
        second.add(c);
    }
    Claim claimed;
    Locks::Take fresh;
    if (claim) claimed = claim->after_first(r1, second, fresh);
    auto r2 = second.run(pool_);
    for (size_t i = 0; i < taken.size(); ++i) {
        auto f = pairs_of(r2[i]);
        if (!f.empty() && !taken[i].entry.jid.empty()) taken[i].job = Job::from_fields(f);
    }
    if (claim) out.claimed = claim->end(pool_, claimed, r2.size() > taken.size() ? &r2.back() : nullptr, fresh);
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
    auto listing = records_.list(limit, cursor, details);
    Page page;
    page.next_cursor = listing.next_cursor;
    for (auto& e : listing.entries) {
        Job j;
        if (details) j = Job::from_fields(e.fields);
        j.jid = e.id;
        page.jobs.push_back(std::move(j));
    }
    return page;
}

bool Store::remove(const std::string& jid) {
    return records_.remove(jid, {keys::returns(jid), keys::events(jid)});
}

int Store::trim_index(int batch) { return records_.trim(batch); }

}  // namespace exed::jobs
