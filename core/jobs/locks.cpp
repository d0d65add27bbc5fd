#include "jobs/locks.hpp"

#include "jobs/keys.hpp"

namespace exed::jobs {

namespace {

// Every lock script starts with this: Redis's time, and who holds a host
// (nil when the field is missing or its lease ran out). A jid may hold
// spaces: the expiry is what follows the last one.
const std::string kLockFns = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function holder(host)
  local v = redis.call('HGET', KEYS[1], host)
  if not v then return nil end
  local jid, expiry = string.match(v, '^(.*) (%d+)$')
  if not expiry or tonumber(expiry) <= now then return nil end
  return jid
end
local function lease(jid, ms) return jid .. ' ' .. string.format('%.0f', now + tonumber(ms)) end
)lua";

// Check every host first, then set all: atomic, so two jobs on overlapping
// hosts can never both win nor both lose (EXEd checked and set separately,
// and raced). Returns {busy positions, positions that were free}.
// KEYS: locks  ARGV: jid lease_ms host...
const Script kTake(kLockFns + R"lua(
local busy, fresh = {}, {}
for i = 3, #ARGV do
  local h = holder(ARGV[i])
  if h and h ~= ARGV[1] then busy[#busy + 1] = i - 2 elseif not h then fresh[#fresh + 1] = i - 2 end
end
if #busy > 0 then return {busy, {}} end
local v = lease(ARGV[1], ARGV[2])
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], v) end
return {busy, fresh}
)lua");

// Returns the positions `jid` no longer holds. KEYS: locks  ARGV: jid lease_ms host...
const Script kRenew(kLockFns + R"lua(
local lost = {}
local v = lease(ARGV[1], ARGV[2])
for i = 3, #ARGV do
  if holder(ARGV[i]) == ARGV[1] then redis.call('HSET', KEYS[1], ARGV[i], v)
  else lost[#lost + 1] = i - 2 end
end
return lost
)lua");

// Per job: jid, number of hosts, hosts. KEYS: locks  ARGV: lease_ms [jid n host...]...
const Script kRenewMany(kLockFns + R"lua(
local i = 2
while i <= #ARGV do
  local jid, n = ARGV[i], tonumber(ARGV[i + 1])
  local v = lease(jid, ARGV[1])
  for h = i + 2, i + 1 + n do
    if holder(ARGV[h]) == jid then redis.call('HSET', KEYS[1], ARGV[h], v) end
  end
  i = i + 2 + n
end
return 0
)lua");

// Frees what `jid` holds, and any lease that ran out on the way.
// KEYS: locks  ARGV: jid host...
const Script kRelease(kLockFns + R"lua(
for i = 2, #ARGV do
  local h = holder(ARGV[i])
  if h == ARGV[1] or not h then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 0
)lua");

// KEYS: locks  ARGV: host
const Script kHolder(kLockFns + "return holder(ARGV[1]) or ''\n");

std::vector<std::string> with_hosts(std::vector<std::string> args, const std::vector<std::string>& hosts) {
    args.insert(args.end(), hosts.begin(), hosts.end());
    return args;
}

std::vector<std::string> hosts_at(const redis::Reply& positions, const std::vector<std::string>& hosts) {
    std::vector<std::string> out;
    for (auto& i : positions.items) {
        auto n = size_t(i.num());
        if (n >= 1 && n <= hosts.size()) out.push_back(hosts[n - 1]);
    }
    return out;
}

}  // namespace

void Locks::take(Steps& steps, const std::vector<std::string>& hosts, const std::string& jid,
                 int lease_ms) {
    steps.add(kTake, {keys::locks}, with_hosts({jid, std::to_string(lease_ms)}, hosts));
}

void Locks::release(Steps& steps, const std::vector<std::string>& hosts, const std::string& jid) {
    steps.add(kRelease, {keys::locks}, with_hosts({jid}, hosts));
}

Locks::Take Locks::taken_of(const redis::Reply& r, const std::vector<std::string>& hosts) {
    Take out;
    if (r.items.size() != 2) return out;
    out.busy = hosts_at(r.items[0], hosts);
    out.fresh = hosts_at(r.items[1], hosts);
    return out;
}

std::vector<std::string> Locks::acquire(const std::vector<std::string>& hosts,
                                        const std::string& jid, int lease_ms) {
    if (hosts.empty()) return {};
    auto r = kTake.run(pool_, {keys::locks}, with_hosts({jid, std::to_string(lease_ms)}, hosts));
    return taken_of(r, hosts).busy;
}

std::vector<std::string> Locks::renew(const std::vector<std::string>& hosts,
                                      const std::string& jid, int lease_ms) {
    if (hosts.empty()) return {};
    auto r = kRenew.run(pool_, {keys::locks}, with_hosts({jid, std::to_string(lease_ms)}, hosts));
    return hosts_at(r, hosts);
}

std::vector<std::string> Locks::renew_queued(
    const std::map<std::string, std::vector<std::string>>& jobs, int lease_ms) {
    if (jobs.empty()) return {};
    Steps statuses;
    for (auto& [jid, hosts] : jobs) {
        redis::Command c("HGET");
        c << keys::job(jid) << "status";
        statuses.add(c);
    }
    auto r = statuses.run(pool_);
    std::vector<std::string> gone, args{std::to_string(lease_ms)};
    size_t i = 0;
    for (auto& [jid, hosts] : jobs) {
        if (r[i++].text() != status::queued) {
            gone.push_back(jid);
            continue;
        }
        args.push_back(jid);
        args.push_back(std::to_string(hosts.size()));
        args.insert(args.end(), hosts.begin(), hosts.end());
    }
    if (args.size() > 1) kRenewMany.run(pool_, {keys::locks}, args);
    return gone;
}

void Locks::release(const std::vector<std::string>& hosts, const std::string& jid) {
    if (hosts.empty()) return;
    kRelease.run(pool_, {keys::locks}, with_hosts({jid}, hosts));
}

std::string Locks::holder(const std::string& host) {
    return kHolder.run(pool_, {keys::locks}, {host}).text();
}

}  // namespace exed::jobs
