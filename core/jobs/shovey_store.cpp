#include "jobs/shovey_store.hpp"

#include "jobs/keys.hpp"
#include "jobs/script.hpp"
#include "json.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/NumberParser.h>

#include <sstream>

namespace exed::shovey {

namespace keys = jobs::keys;
using jobs::Script;
using redis::Command;
using redis::Reply;

namespace {

// The per-status counts follow each node's change of status; a node
// recorded before the counts existed ('counted' unset) is added once.
// KEYS: node history nodes counts  ARGV: answered(1|0) down_after now_ms history_max name
const Script kRecordCheck(R"lua(
local missed = tonumber(redis.call('HGET', KEYS[1], 'missed') or '0')
local prev = redis.call('HGET', KEYS[1], 'status')
local status = 'up'
if ARGV[1] == '1' then
  missed = 0
else
  missed = missed + 1
  if prev ~= 'up' or missed >= tonumber(ARGV[2]) then status = 'down' end
end
if redis.call('HGET', KEYS[1], 'counted') then
  if prev ~= status then
    redis.call('HINCRBY', KEYS[4], prev, -1)
    redis.call('HINCRBY', KEYS[4], status, 1)
  end
else
  redis.call('HINCRBY', KEYS[4], status, 1)
end
redis.call('HSET', KEYS[1], 'status', status, 'updated_ms', ARGV[3], 'missed', missed, 'counted', '1')
redis.call('LPUSH', KEYS[2], status .. ' ' .. ARGV[3])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
redis.call('SADD', KEYS[3], ARGV[5])
return status
)lua");

// KEYS: lease  ARGV: token keep_ms
const Script kEndCheck(R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('DEL', KEYS[1])
)lua");

int64_t to_i64(const std::string& s) {
    Poco::Int64 n = 0;
    return Poco::NumberParser::tryParse64(s, n) ? n : 0;
}

std::string nodes_json(const std::vector<std::string>& nodes) {
    Poco::JSON::Array a;
    for (auto& n : nodes) a.add(n);
    return json_string(a);
}

std::vector<std::string> nodes_of(const std::string& json) {
    std::vector<std::string> out;
    try {
        auto a = parse_json(json).extract<Poco::JSON::Array::Ptr>();
        for (size_t i = 0; i < a->size(); ++i) out.push_back(a->getElement<std::string>(i));
    } catch (const Poco::Exception&) {
    }
    return out;
}

// "up 1700000000000" as kept in a history list.
NodeStatus history_entry(const std::string& node, const std::string& text) {
    NodeStatus s{node, text, 0};
    auto sp = text.find(' ');
    if (sp != std::string::npos) {
        s.status = text.substr(0, sp);
        s.updated_ms = to_i64(text.substr(sp + 1));
    }
    return s;
}

}  // namespace

Store::Store(redis::Pool& pool, std::vector<std::string> open_run_statuses)
    : pool_(pool), open_(std::move(open_run_statuses)),
      index_(pool, keys::shovey_index, keys::shovey_seq, keys::shovey_job) {}

// A script's own arguments, then the open run statuses (its Lua reads
// them from the first index after its own).
std::vector<std::string> Store::with_open_statuses(std::vector<std::string> args) const {
    args.insert(args.end(), open_.begin(), open_.end());
    return args;
}

void Store::create(const JobRecord& job, int ttl_s) {
    jobs::RecordIndex::Fields fields = {{"id", job.id}, {"command", job.command},
                                        {"run_timeout", std::to_string(job.run_timeout)},
                                        {"quorum", job.quorum},
                                        {"created_ms", std::to_string(job.created_ms)},
                                        {"updated_ms", std::to_string(job.updated_ms)},
                                        {"status", job.status}, {"error", job.error},
                                        {"nodes", nodes_json(job.nodes)}};
    for (auto& [node, run] : job.runs) fields.emplace_back("run:" + node, run);
    index_.create(job.id, fields, ttl_s);
}

std::optional<JobRecord> Store::get(const std::string& id) {
    Command c("HGETALL");
    c << keys::shovey_job(id);
    auto f = jobs::pairs_of(pool_.run(c));
    if (f.empty()) return std::nullopt;
    JobRecord j;
    j.id = f["id"];
    j.command = f["command"];
    j.run_timeout = int(to_i64(f["run_timeout"]));
    j.quorum = f["quorum"];
    j.created_ms = to_i64(f["created_ms"]);
    j.updated_ms = to_i64(f["updated_ms"]);
    j.status = f["status"];
    j.error = f["error"];
    j.nodes = nodes_of(f["nodes"]);
    for (auto& [k, v] : f)
        if (k.rfind("run:", 0) == 0) j.runs[k.substr(4)] = v;
    return j;
}

bool Store::set_run(const std::string& id, const std::string& node, const std::string& run_json,
                    int64_t updated_ms) {
    // HSET on an expired record would recreate it without a TTL: only
    // while it exists; and never over a run that already ended.
    // KEYS: job  ARGV: field json open_status...
    static const Script kSetRun(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local open = {}
for i = 3, #ARGV do open[ARGV[i]] = true end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ok, run = pcall(cjson.decode, cur)
  if ok and type(run) == 'table' and not open[run.status] then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
)lua");
    if (kSetRun.run(pool_, {keys::shovey_job(id)}, with_open_statuses({"run:" + node, run_json})).num() == 0)
        return false;
    set_updated(id, updated_ms);
    return true;
}

void Store::set_updated(const std::string& id, int64_t updated_ms) {
    // Only forwards: two API processes may observe the same change.
    static const Script kTouch(R"lua(
local cur = tonumber(redis.call('HGET', KEYS[1], 'updated_ms') or '0')
if cur and cur >= tonumber(ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'updated_ms', ARGV[1])
return 1
)lua");
    kTouch.run(pool_, {keys::shovey_job(id)}, {std::to_string(updated_ms)});
}

void Store::expire(const std::string& id, int ttl_s) {
    jobs::Steps steps;
    for (const auto& key : {keys::shovey_job(id), keys::shovey_output(id)}) {
        Command c("EXPIRE");
        c << key << std::to_string(ttl_s);
        steps.add(c);
    }
    steps.run(pool_);
}

IdPage Store::list(int limit, const std::string& cursor) {
    auto listing = index_.list(limit, cursor, false);
    IdPage page;
    page.next_cursor = listing.next_cursor;
    for (auto& e : listing.entries) page.ids.push_back(e.id);
    return page;
}

std::string Store::record_check(const std::string& node, bool answered, int down_after,
                                int64_t now_ms, int history_max) {
    Reply r = kRecordCheck.run(pool_, {keys::shovey_node(node), keys::shovey_history(node), keys::shovey_nodes,
                                       keys::shovey_node_counts},
                               {answered ? "1" : "0", std::to_string(down_after),
                                std::to_string(now_ms), std::to_string(history_max), node});
    return r.text();
}

std::optional<NodeStatus> Store::node_status(const std::string& node) {
    Command c("HMGET");
    c << keys::shovey_node(node) << "status" << "updated_ms";
    Reply r = pool_.run(c);
    if (r.items.size() != 2 || r.items[0].nil()) return std::nullopt;
    return NodeStatus{node, r.items[0].text(), to_i64(r.items[1].text())};
}

std::vector<NodeStatus> Store::all_nodes() {
    Command c("SMEMBERS");
    c << keys::shovey_nodes;
    std::vector<NodeStatus> out;
    for (auto& n : pool_.run(c).items)
        if (auto s = node_status(n.text())) out.push_back(*s);
    return out;
}

std::vector<std::string> Store::node_names() {
    Command c("SMEMBERS");
    c << keys::shovey_nodes;
    std::vector<std::string> out;
    for (auto& n : pool_.run(c).items) out.push_back(n.text());
    return out;
}

std::map<std::string, int64_t> Store::node_counts() {
    Command c("HGETALL");
    c << keys::shovey_node_counts;
    std::map<std::string, int64_t> out;
    for (auto& [status, n] : jobs::pairs_of(pool_.run(c))) out[status] = to_i64(n);
    return out;
}

std::vector<NodeStatus> Store::history(const std::string& node, int limit) {
    Command c("LRANGE");
    c << keys::shovey_history(node) << "0" << std::to_string(limit - 1);
    std::vector<NodeStatus> out;
    for (auto& e : pool_.run(c).items) out.push_back(history_entry(node, e.text()));
    return out;
}

bool Store::take_check(const std::string& token, int64_t lease_ms) {
    Command c("SET");
    c << keys::shovey_check_lease << token << "NX" << "PX" << std::to_string(lease_ms);
    return !pool_.run(c).nil();
}

void Store::end_check(const std::string& token, int64_t keep_ms) {
    kEndCheck.run(pool_, {keys::shovey_check_lease}, {token, std::to_string(keep_ms)});
}

}  // namespace exed::shovey
