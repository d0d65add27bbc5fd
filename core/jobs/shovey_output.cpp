// Output chunks agents report over HTTP (PUT /shovey/stream/<id>/<node>),
// kept in one hash per job beside its record and expiring with it:
//   <node>|n                  chunks so far (arrival order 1..n)
//   <node>|<i>                chunk i: {"t": type, "s": seq, "o": output}
//   <node>|seen|<type>|<seq>  present once that chunk arrived (duplicates)
//   <node>|last|<type>        the seq the agent marked is_last
//   <node>|bytes              output bytes so far
// Node names never contain '|' (valid_node_name). The hash shares its
// job's hash tag ({shovey:<id>}): the add script reads the record too.
#include "jobs/shovey_store.hpp"

#include "jobs/keys.hpp"
#include "jobs/script.hpp"
#include "json.hpp"

#include <Poco/JSON/Object.h>

namespace exed::shovey {

namespace keys = jobs::keys;
using jobs::Script;
using redis::Command;
using redis::Reply;

namespace {

// KEYS: job output  ARGV: node type seq is_last output max_chunks max_bytes open_status...
const Script kAddChunk(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local open = {}
for i = 8, #ARGV do open[ARGV[i]] = true end
local run = redis.call('HGET', KEYS[1], 'run:' .. ARGV[1])
if run then
  local ok, r = pcall(cjson.decode, run)
  if ok and type(r) == 'table' and not open[r.status] then return 'finished' end
end
local p = ARGV[1] .. '|'
local seen = p .. 'seen|' .. ARGV[2] .. '|' .. ARGV[3]
if redis.call('HEXISTS', KEYS[2], seen) == 1 then return 'duplicate' end
local last = redis.call('HGET', KEYS[2], p .. 'last|' .. ARGV[2])
if last and tonumber(ARGV[3]) > tonumber(last) then return 'after_last' end
local n = tonumber(redis.call('HGET', KEYS[2], p .. 'n') or '0')
local bytes = tonumber(redis.call('HGET', KEYS[2], p .. 'bytes') or '0')
if n >= tonumber(ARGV[6]) or bytes + #ARGV[5] > tonumber(ARGV[7]) then return 'full' end
n = n + 1
redis.call('HSET', KEYS[2], p .. n, cjson.encode({t = ARGV[2], s = tonumber(ARGV[3]), o = ARGV[5]}),
           p .. 'n', n, p .. 'bytes', bytes + #ARGV[5], seen, '1')
if ARGV[4] == '1' then redis.call('HSET', KEYS[2], p .. 'last|' .. ARGV[2], ARGV[3]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 'added'
)lua");

// KEYS: output  ARGV: node
const Script kChunks(R"lua(
local p = ARGV[1] .. '|'
local n = tonumber(redis.call('HGET', KEYS[1], p .. 'n') or '0')
if n == 0 then return {} end
local fields = {}
for i = 1, n do fields[i] = p .. i end
return redis.call('HMGET', KEYS[1], unpack(fields))
)lua");

}  // namespace

ChunkResult Store::add_chunk(const std::string& id, const std::string& node, const ReportedChunk& chunk,
                             bool is_last, int max_chunks, int64_t max_bytes) {
    Reply r = kAddChunk.run(pool_, {keys::shovey_job(id), keys::shovey_output(id)},
                            with_open_statuses({node, chunk.type, std::to_string(chunk.seq), is_last ? "1" : "0",
                                                chunk.output, std::to_string(max_chunks),
                                                std::to_string(max_bytes)}));
    std::string what = r.text();
    if (what == "added") return ChunkResult::added;
    if (what == "duplicate") return ChunkResult::duplicate;
    if (what == "finished") return ChunkResult::finished;
    if (what == "after_last") return ChunkResult::after_last;
    if (what == "full") return ChunkResult::full;
    return ChunkResult::gone;
}

std::vector<ReportedChunk> Store::chunks(const std::string& id, const std::string& node) {
    Reply r = kChunks.run(pool_, {keys::shovey_output(id)}, {node});
    std::vector<ReportedChunk> out;
    for (auto& item : r.items) {
        if (item.nil()) continue;
        try {
            auto o = parse_json(item.text()).extract<Poco::JSON::Object::Ptr>();
            out.push_back({o->getValue<std::string>("t"), o->getValue<Poco::Int64>("s"),
                           o->getValue<std::string>("o")});
        } catch (const Poco::Exception&) {
            // written only by kAddChunk: never malformed, but never trusted either
        }
    }
    return out;
}

}  // namespace exed::shovey
