#include "jobs/locks.hpp"

#include "jobs/keys.hpp"

namespace exed::jobs {

namespace {

// Check every key first, then set all: atomic, so two jobs on overlapping
// hosts can never both win (EXEd checked and set separately, and raced).
const char* kAcquire = R"lua(
local busy = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and v ~= ARGV[1] then table.insert(busy, i) end
end
if #busy > 0 then return busy end
for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) end
return {}
)lua";

const char* kRenew = R"lua(
local lost = {}
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2])
  else table.insert(lost, i) end
end
return lost
)lua";

const char* kRelease = R"lua(
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return {}
)lua";

}  // namespace

std::vector<std::string> Locks::run(const char* script, const std::vector<std::string>& hosts,
                                    const std::string& jid, int lease_ms) {
    if (hosts.empty()) return {};
    redis::Command c("EVAL");
    c << script << std::to_string(hosts.size());
    for (auto& h : hosts) c << keys::lock(h);
    c << jid << std::to_string(lease_ms);
    std::vector<std::string> out;
    for (auto& i : pool_.run(c).items) {
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

void Locks::release(const std::vector<std::string>& hosts, const std::string& jid) {
    run(kRelease, hosts, jid, 0);
}

std::string Locks::holder(const std::string& host) {
    redis::Command c("GET");
    c << keys::lock(host);
    return pool_.run(c).text();
}

}  // namespace exed::jobs
