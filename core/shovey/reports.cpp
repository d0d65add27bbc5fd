// The agent-facing PUTs of the Shovey spec: a schob-like agent reports its
// run's status and its output over plain HTTP. The caller was authorised
// as an agent for the node before this (routes.cpp, Access::require_report).
//
// A report is the agent's word on its run: its status, times, exit status
// and error replace what the exed job says, and its chunks are the run's
// output. A terminal report ends the run (the first end recorded wins, see
// Store::set_run) and cancels the node's exed job if it still goes on, so
// its host lock and worker are freed. Everything in a body is checked;
// nothing in it is trusted beyond its documented shape.
#include "shovey/service.hpp"

#include "errors.hpp"
#include "operate/numbers.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/RegularExpression.h>

#include <chrono>

namespace exed::shovey {

namespace {

constexpr int kMaxChunks = 10000;                   // per run
constexpr int64_t kMaxOutputBytes = 16 << 20;       // per run, both types
constexpr size_t kMaxError = 64 * 1024;             // bytes of `error`
constexpr int64_t kMaxSeq = 2147483647;

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

[[noreturn]] void bad(const std::string& why) { throw DomainError(Errc::invalid, why); }

void only_keys(const Poco::JSON::Object::Ptr& body, std::initializer_list<const char*> allowed) {
    for (auto& [k, v] : *body) {
        bool ok = false;
        for (auto a : allowed) ok = ok || k == a;
        if (!ok) bad("unknown field '" + k.substr(0, 64) + "'");
    }
}

// run_id and node_name may be left out; when given they name the path's run.
void same_run(const Poco::JSON::Object::Ptr& body, const std::string& id, const std::string& node) {
    for (auto [key, want] : {std::pair<const char*, const std::string&>{"run_id", id}, {"node_name", node}}) {
        if (!body->has(key)) continue;
        if (!body->get(key).isString()) bad(std::string(key) + " must be a string");
        if (body->getValue<std::string>(key) != want)
            bad(std::string(key) + " does not match the path (" + want.substr(0, 64) + ")");
    }
}

std::string required_string(const Poco::JSON::Object::Ptr& body, const std::string& key) {
    if (!body->has(key) || !body->get(key).isString()) bad(key + " is required (a string)");
    return body->getValue<std::string>(key);
}

// An optional integer field within [min, max]; `fallback` when absent or null.
int64_t int_field(const Poco::JSON::Object::Ptr& body, const std::string& key, int64_t min, int64_t max,
                  int64_t fallback, bool& given) {
    given = false;
    if (!body->has(key) || body->get(key).isEmpty()) return fallback;
    int64_t n = 0;
    if (!operate::json_integer(body->get(key), min, max, n)) bad(operate::range_message(key, min, max));
    given = true;
    return n;
}

// An RFC 3339 time (as Shovey writes them) in epoch ms; 0 when absent or "".
int64_t time_field(const Poco::JSON::Object::Ptr& body, const std::string& key) {
    if (!body->has(key)) return 0;
    if (!body->get(key).isString()) bad(key + " must be an RFC 3339 time string");
    std::string text = body->getValue<std::string>(key);
    if (text.empty()) return 0;
    // Poco's parser is lenient ("yesterday" is year 0): the shape first.
    static const Poco::RegularExpression rfc3339(
        R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$)");
    Poco::DateTime at;
    int tzd = 0;
    if (text.size() > 64 || !rfc3339.match(text) ||
        !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, text, at, tzd))
        bad(key + " must be an RFC 3339 time such as 2014-08-26T21:44:24.645047-07:00");
    at.makeUTC(tzd);
    return at.timestamp().epochMicroseconds() / 1000;
}

bool reportable(const std::string& s) {
    // created and down are the server's own; everything else an agent may say.
    return node_status::known(s) && s != node_status::created && s != node_status::down;
}

[[noreturn]] void ended(const std::string& node, const Run& run) {
    throw DomainError(Errc::conflict, "the run on node " + node + " has ended (" + run.status + ")");
}

}  // namespace

Poco::JSON::Object::Ptr Service::report_run(const std::string& id, const std::string& node,
                                            const Poco::JSON::Object::Ptr& body) {
    only_keys(body, {"run_id", "node_name", "status", "ack_time", "end_time", "error", "exit_status",
                     "protocol_major", "protocol_minor"});
    same_run(body, id, node);
    std::string status = required_string(body, "status");
    if (!reportable(status))
        bad("status must be running, succeeded, failed, nacked, invalid, cancelled or killed");
    int64_t ack_ms = time_field(body, "ack_time"), end_ms = time_field(body, "end_time");
    bool has_exit = false, given = false;
    int64_t exit_status = int_field(body, "exit_status", -2147483648LL, 2147483647LL, 0, has_exit);
    int_field(body, "protocol_major", 0, 0, 0, given);  // Shovey's protocol 0.x
    int_field(body, "protocol_minor", 0, 1000000, 0, given);
    std::string error;
    if (body->has("error")) {
        if (!body->get("error").isString()) bad("error must be a string");
        error = body->getValue<std::string>("error");
        if (error.size() > kMaxError) bad("error is longer than " + std::to_string(kMaxError) + " bytes");
    }

    auto job = require_job(id);
    require_node(job, node);
    Run now = run_status(job, node);
    if (node_status::terminal(now.status)) ended(node, now);

    Run r = Run::from_cache_json(node, job.runs.count(node) ? job.runs[node] : "{}");
    r.reported = true;
    r.status = status;
    r.ack_ms = ack_ms ? ack_ms : r.ack_ms ? r.ack_ms : now_ms();
    bool terminal = node_status::terminal(status);
    if (terminal) r.end_ms = end_ms ? end_ms : now_ms();
    if (has_exit) r.exit_status = int(exit_status);
    if (body->has("error")) r.error = error;
    if (!store_.set_run(id, node, r.to_cache_json(), now_ms())) {
        auto fresh = require_job(id);
        ended(node, Run::from_cache_json(node, fresh.runs.count(node) ? fresh.runs[node] : "{}"));
    }
    if (terminal) {
        // Nothing left for the exed job to do: free its host and worker.
        if (!r.jid.empty()) {
            try {
                jobs_.cancel(r.jid);
            } catch (const DomainError&) {
                // The store is away or the job ended meanwhile: it ends by itself.
            }
        }
        // Every run's end recorded: the job ended, kept as long as its runs.
        // (From the record alone: no exed job is read per node here.)
        auto after = require_job(id);
        bool open = false;
        for (auto& n : after.nodes)
            open = open || !node_status::terminal(Run::from_cache_json(n, after.runs.count(n) ? after.runs[n] : "{}").status);
        if (!open) store_.expire(id, settings_.job_ttl);
    }
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("id", id);
    out->set("node", node);
    out->set("response", "ok");
    return out;
}

Poco::JSON::Object::Ptr Service::report_output(const std::string& id, const std::string& node,
                                               const Poco::JSON::Object::Ptr& body) {
    only_keys(body, {"run_id", "node_name", "seq", "is_last", "output_type", "output"});
    same_run(body, id, node);
    bool given = false;
    ReportedChunk chunk;
    chunk.seq = int_field(body, "seq", 1, kMaxSeq, 0, given);
    if (!given) bad("seq is required (an integer from 1)");
    chunk.type = required_string(body, "output_type");
    if (chunk.type != "stdout" && chunk.type != "stderr") bad("output_type must be stdout or stderr");
    chunk.output = required_string(body, "output");
    bool is_last = false;
    if (body->has("is_last")) {
        if (!body->get("is_last").isBoolean()) bad("is_last must be true or false");
        is_last = body->getValue<bool>("is_last");
    }

    auto job = require_job(id);
    require_node(job, node);
    if (Run now = run_status(job, node); node_status::terminal(now.status)) ended(node, now);
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    switch (store_.add_chunk(id, node, chunk, is_last, kMaxChunks, kMaxOutputBytes)) {
        case ChunkResult::added: break;
        case ChunkResult::duplicate: out->set("duplicate", true); break;  // a resend: ignored
        case ChunkResult::gone: throw DomainError(Errc::not_found, "no such shovey job: " + id);
        case ChunkResult::finished: throw DomainError(Errc::conflict, "the run on node " + node + " has ended");
        case ChunkResult::after_last:
            throw DomainError(Errc::conflict, "seq " + std::to_string(chunk.seq) + " comes after the " + chunk.type +
                                                  " chunk marked is_last");
        case ChunkResult::full:
            throw DomainError(Errc::conflict, "output limit of this run reached (" + std::to_string(kMaxChunks) +
                                                  " chunks, " + std::to_string(kMaxOutputBytes >> 20) + " MiB)");
    }
    out->set("response", "ok");
    return out;
}

}  // namespace exed::shovey
