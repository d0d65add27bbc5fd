#include "nodes/registry.hpp"

#include "jobs/keys.hpp"
#include "jobs/script.hpp"
#include "nodes/fingerprint.hpp"

#include <Poco/RegularExpression.h>

#include <algorithm>
#include <ctime>

namespace exed::nodes {

namespace {

namespace keys = jobs::keys;
// keys::nodes_version is bumped by every change of a record's key or state
// (not by last_seen): a listener polls it (one GET) and reads the whole list
// only when it moved.

// One step, so two connections presenting keys for a new name at once
// cannot both be recorded: the first wins, the second is a mismatch.
const jobs::Script kPresent(R"(
local fp = redis.call('HGET', KEYS[1], 'fingerprint')
if not fp then
  if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[6]) then return 'full' end
  local state = 'pending'
  if ARGV[5] == '1' then state = 'accepted' end
  redis.call('HSET', KEYS[1], 'state', state, 'public_key', ARGV[2], 'fingerprint', ARGV[3],
             'first_seen', ARGV[4], 'last_seen', ARGV[4])
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('INCR', KEYS[3])
  return state
end
if fp ~= ARGV[3] then return 'mismatch' end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'pending' and ARGV[5] == '1' then
  state = 'accepted'
  redis.call('HSET', KEYS[1], 'state', state)
  redis.call('INCR', KEYS[3])
end
redis.call('HSET', KEYS[1], 'last_seen', ARGV[4])
return state
)");

const jobs::Script kSetState(R"(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
redis.call('INCR', KEYS[2])
return 1
)");

const jobs::Script kRemove(R"(
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
return redis.call('DEL', KEYS[1])
)");

// The records of the names read just before, each key declared (a name
// removed meanwhile has no record and is skipped; one added is listed next
// time). KEYS: node hashes  ARGV: their names, in the same order.
// Returns {name, state, public_key, fingerprint, first, last, ...}.
const jobs::Script kList(R"(
local out = {}
for i, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, 'state', 'public_key', 'fingerprint', 'first_seen', 'last_seen')
  if f[1] then
    table.insert(out, ARGV[i])
    for j = 1, 5 do table.insert(out, f[j] or '') end
  end
end
return out
)");
// Names per kList call: each call stays short on the server.
constexpr size_t kListBatch = 1000;

int64_t number(const std::string& s) {
    try {
        return s.empty() ? 0 : std::stoll(s);
    } catch (const std::exception&) {
        return 0;
    }
}

}  // namespace

const char* verdict_name(Verdict v) {
    switch (v) {
        case Verdict::accepted: return "accepted";
        case Verdict::pending: return "pending";
        case Verdict::rejected: return "rejected";
        case Verdict::mismatch: return "mismatch";
        default: return "full";
    }
}

bool valid_node_name(const std::string& name) {
    static const Poco::RegularExpression re(R"(^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$)");
    return re.match(name);
}

Verdict Registry::present(const std::string& name, const std::string& pem, std::string& fp) {
    fp = nodes::fingerprint(pem);
    auto r = kPresent.run(pool_, {keys::node(name), keys::nodes, keys::nodes_version},
                          {name, pem, fp, std::to_string(::time(nullptr)), auto_accept_ ? "1" : "0",
                           std::to_string(kMaxNodes)});
    std::string s = r.text();
    if (s == "accepted") return Verdict::accepted;
    if (s == "pending") return Verdict::pending;
    if (s == "mismatch") return Verdict::mismatch;
    if (s == "full") return Verdict::full;
    return Verdict::rejected;  // rejected, or a state this exed does not know
}

std::vector<NodeRecord> Registry::list() {
    redis::Command members("SMEMBERS");
    members << keys::nodes;
    auto names = pool_.run(members).items;
    std::vector<NodeRecord> out;
    for (size_t from = 0; from < names.size(); from += kListBatch) {
        std::vector<std::string> node_keys, node_names;
        for (size_t i = from; i < std::min(names.size(), from + kListBatch); ++i) {
            node_names.push_back(names[i].text());
            node_keys.push_back(keys::node(node_names.back()));
        }
        auto r = kList.run(pool_, node_keys, node_names);
        for (size_t i = 0; i + 5 < r.items.size(); i += 6)
            out.push_back({r.items[i].text(), r.items[i + 1].text(), r.items[i + 2].text(),
                           r.items[i + 3].text(), number(r.items[i + 4].text()), number(r.items[i + 5].text())});
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return out;
}

std::optional<NodeRecord> Registry::get(const std::string& name) {
    redis::Command c("HMGET");
    c << keys::node(name) << "state" << "public_key" << "fingerprint" << "first_seen" << "last_seen";
    auto r = pool_.run(c);
    if (r.items.size() != 5 || r.items[0].nil()) return std::nullopt;
    return NodeRecord{name, r.items[0].text(), r.items[1].text(), r.items[2].text(), number(r.items[3].text()),
                      number(r.items[4].text())};
}

bool Registry::set_state(const std::string& name, const std::string& state) {
    return kSetState.run(pool_, {keys::node(name), keys::nodes_version}, {state}).num() == 1;
}

bool Registry::remove(const std::string& name) {
    return kRemove.run(pool_, {keys::node(name), keys::nodes, keys::nodes_version}, {name}).num() > 0;
}

int64_t Registry::version() {
    redis::Command c("GET");
    c << keys::nodes_version;
    return number(pool_.run(c).text());
}

}  // namespace exed::nodes
