#include "jobs/locks.hpp"

#include "jobs/keys.hpp"
#include "jobs/script.hpp"

namespace exed::jobs {

// Check every key first, then set all: atomic, so two jobs on overlapping
// hosts can never both win (EXEd checked and set separately, and raced).
const char* const lua::take_locks = R"lua(
local function take_locks(first, jid, lease_ms)
  local busy = {}
  for i = first, #KEYS do
    local v = redis.call('GET', KEYS[i])
    if v and v ~= jid then table.insert(busy, i - first + 1) end
  end
  if #busy > 0 then return busy end
  for i = first, #KEYS do redis.call('SET', KEYS[i], jid, 'PX', lease_ms) end
  return {}
end
)lua";

namespace {

const Script kAcquire(std::string(lua::take_locks) + "return take_locks(1, ARGV[1], ARGV[2])\n");

const Script kRenew(R"lua(
local lost = {}
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2])
  else table.insert(lost, i) end
end
return lost
)lua");

// The watchdog renews the locks of every job its process queued, every
// lease/3. One HGET + one renew per job made that O(backlog) round trips
// (20 000 per cycle at the default max_queued, as many Redis commands as
// the workers sent); per batch it is one. Same checks as before: only a
// job still queued, only locks it still holds.
// KEYS: per job: exed:job:<jid>, then its locks
// ARGV: lease_ms, then per job: jid, number of locks
const Script kRenewQueued(R"lua(
local gone = {}
local k = 1
for j = 2, #ARGV, 2 do
  local jid, n = ARGV[j], tonumber(ARGV[j + 1])
  if redis.call('HGET', KEYS[k], 'status') == 'queued' then
    for i = k + 1, k + n do
      if redis.call('GET', KEYS[i]) == jid then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
    end
  else
    gone[#gone + 1] = jid
  end
  k = k + 1 + n
end
return gone
)lua");

const Script kRelease(R"lua(
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return {}
)lua");

}  // namespace

std::vector<std::string> Locks::run(const Script& script, const std::vector<std::string>& hosts,
                                    const std::string& jid, int lease_ms) {
    if (hosts.empty()) return {};
    std::vector<std::string> ks;
    for (auto& h : hosts) ks.push_back(keys::lock(h));
    std::vector<std::string> out;
    for (auto& i : script.run(pool_, ks, {jid, std::to_string(lease_ms)}).items) {
        auto n = size_t(i.num());
        if (n >= 1 && n <= hosts.size()) out.push_back(hosts[n - 1]);
    }
    return out;
}

std::vector<std::string> Locks::acquire(const std::vector<std::string>& hosts,
                                        const std::string& jid, int lease_ms) {
    return run(kAcquire, hosts, jid, lease_ms);
}

std::vector<std::string> Locks::renew(const std::vector<std::string>& hosts,
                                      const std::string& jid, int lease_ms) {
    return run(kRenew, hosts, jid, lease_ms);
}

std::vector<std::string> Locks::renew_queued(
    const std::map<std::string, std::vector<std::string>>& jobs, int lease_ms) {
    if (jobs.empty()) return {};
    std::vector<std::string> ks, args{std::to_string(lease_ms)};
    for (auto& [jid, hosts] : jobs) {
        ks.push_back(keys::job(jid));
        for (auto& h : hosts) ks.push_back(keys::lock(h));
        args.push_back(jid);
        args.push_back(std::to_string(hosts.size()));
    }
    std::vector<std::string> gone;
    for (auto& jid : kRenewQueued.run(pool_, ks, args).items) gone.push_back(jid.text());
    return gone;
}

void Locks::release(const std::vector<std::string>& hosts, const std::string& jid) {
    run(kRelease, hosts, jid, 0);
}

std::string Locks::holder(const std::string& host) {
    redis::Command c("GET");
    c << keys::lock(host);
    return pool_.run(c).text();
}

}  // namespace exed::jobs
