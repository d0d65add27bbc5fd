#include "shovey/runs.hpp"

#include "jobs/model.hpp"
#include "json.hpp"

#include <Poco/JSON/Array.h>
#include <exed/sdk.h>

#include <algorithm>
#include <map>

namespace exed::shovey {

std::string Run::to_cache_json() const {
    Poco::JSON::Object o;
    o.set("status", status);
    if (!jid.empty()) o.set("jid", jid);
    if (!error.empty()) o.set("error", error);
    if (ack_ms) o.set("ack_ms", ack_ms);
    if (end_ms) o.set("end_ms", end_ms);
    if (exit_status) o.set("exit_status", *exit_status);
    if (reported) o.set("reported", true);
    return json_string(o);
}

Run Run::from_cache_json(const std::string& node, const std::string& json) {
    Run r;
    r.node = node;
    try {
        auto o = parse_json(json).extract<Poco::JSON::Object::Ptr>();
        r.status = o->optValue<std::string>("status", node_status::failed);
        r.jid = o->optValue<std::string>("jid", "");
        r.error = o->optValue<std::string>("error", "");
        r.ack_ms = o->optValue<Poco::Int64>("ack_ms", 0);
        r.end_ms = o->optValue<Poco::Int64>("end_ms", 0);
        if (o->has("exit_status")) r.exit_status = o->getValue<int>("exit_status");
        r.reported = o->optValue<bool>("reported", false);
    } catch (const Poco::Exception&) {
        r.status = node_status::failed;
        r.error = "unreadable run record";
    }
    return r;
}

namespace {

// The node's result as the executor's `execute` gives it: status (exed's
// per-host state), rtc, stdout, stderr, error, and output_order when the
// executor knows in which order the output came.
void read_result(Run& r, const std::string& result_json, bool& unreachable, bool& has_rtc) {
    unreachable = has_rtc = false;
    if (result_json.empty()) return;
    try {
        auto o = parse_json(result_json).extract<Poco::JSON::Object::Ptr>();
        unreachable = o->optValue<int>(EXED_KEY_STATUS, -1) == EXED_HOST_UNREACHABLE;
        r.stdout_text = o->optValue<std::string>("stdout", "");
        r.stderr_text = o->optValue<std::string>("stderr", "");
        if (o->has("error")) r.error = o->getValue<std::string>("error");
        if (o->has("rtc") && o->getValue<int>("rtc") >= 0) {
            has_rtc = true;
            r.exit_status = o->getValue<int>("rtc");
        }
        if (auto order = o->getArray("output_order")) {
            for (size_t i = 0; i < order->size(); ++i) {
                auto slice = order->getArray(i);
                if (!slice || slice->size() != 2) continue;
                r.order.emplace_back(slice->getElement<std::string>(0),
                                     size_t(slice->getElement<Poco::Int64>(1)));
            }
        }
    } catch (const Poco::Exception&) {
        r.error = "unreadable result from the executor";
    }
}

}  // namespace

Run run_from_job(const std::string& node, const std::string& jid, const std::optional<RunJob>& job) {
    Run r;
    r.node = node;
    r.jid = jid;
    if (!job) {
        r.status = node_status::failed;
        r.error = "exed job " + jid + " expired or was deleted";
        return r;
    }
    r.ack_ms = job->started_s * 1000;
    if (job->status == jobs::status::queued) {
        r.status = node_status::created;
        return r;
    }
    if (job->status == jobs::status::running) {
        r.status = node_status::running;
        return r;
    }
    r.end_ms = job->finished_s * 1000;
    bool unreachable = false, has_rtc = false;
    read_result(r, job->result, unreachable, has_rtc);
    bool timed_out = job->error.rfind("run_timeout", 0) == 0 ||
                     (job->started_s && job->finished_s - job->started_s >= job->run_timeout &&
                      job->status != jobs::status::done);
    if (job->status == jobs::status::cancelled ||
        (job->cancel_requested && job->status != jobs::status::done)) {
        r.status = node_status::cancelled;
        if (r.error.empty()) r.error = "cancelled";
    } else if (timed_out) {
        r.status = node_status::killed;
        r.error = "run_timeout of " + std::to_string(job->run_timeout) + " s exceeded";
    } else if (has_rtc && !unreachable) {
        r.status = *r.exit_status == 0 ? node_status::succeeded : node_status::failed;
    } else {
        // Unreachable, refused by the executor, or the worker was lost.
        r.status = node_status::failed;
        if (r.error.empty()) r.error = job->error.empty() ? "no result from the executor" : job->error;
    }
    return r;
}

std::vector<Chunk> chunks_of(const Run& run) {
    std::vector<Chunk> out;
    if (!run.reported_chunks.empty()) {
        for (auto& c : run.reported_chunks) out.push_back(Chunk{c.type, c.seq, int64_t(out.size()) + 1, c.output});
        return out;
    }
    int64_t seq_out = 0, seq_err = 0;
    auto add = [&](const std::string& type, std::string text) {
        if (text.empty()) return;
        int64_t seq = type == "stdout" ? ++seq_out : ++seq_err;
        out.push_back(Chunk{type, seq, int64_t(out.size()) + 1, std::move(text)});
    };
    size_t at_out = 0, at_err = 0;
    for (auto& [type, bytes] : run.order) {
        bool is_out = type == "stdout";
        if (!is_out && type != "stderr") continue;
        const std::string& text = is_out ? run.stdout_text : run.stderr_text;
        size_t& at = is_out ? at_out : at_err;
        if (at >= text.size()) continue;
        add(type, text.substr(at, bytes));
        at += std::min(bytes, text.size() - at);
    }
    // Whatever the order did not cover (or all of it, without an order).
    if (at_out < run.stdout_text.size()) add("stdout", run.stdout_text.substr(at_out));
    if (at_err < run.stderr_text.size()) add("stderr", run.stderr_text.substr(at_err));
    return out;
}

Run merge_run(const Run& cached, const std::optional<RunJob>& job) {
    if (node_status::terminal(cached.status) || cached.jid.empty()) return cached;
    Run from_job = run_from_job(cached.node, cached.jid, job);
    // The agent said it runs; until it says more, its exed job's end (a
    // cancel, run_timeout, a lost worker) is the run's end.
    if (cached.reported && !node_status::terminal(from_job.status)) return cached;
    return from_job;
}

void use_reported_output(Run& run, std::vector<ReportedChunk> chunks) {
    if (chunks.empty()) return;
    std::stable_sort(chunks.begin(), chunks.end(),
                     [](const ReportedChunk& a, const ReportedChunk& b) { return a.seq < b.seq; });
    run.stdout_text.clear();
    run.stderr_text.clear();
    run.order.clear();
    for (auto& c : chunks) (c.type == "stderr" ? run.stderr_text : run.stdout_text) += c.output;
}

Poco::JSON::Array::Ptr output_gaps(const std::vector<ReportedChunk>& chunks, size_t max) {
    std::map<std::string, std::vector<int64_t>> seqs;
    for (auto& c : chunks) seqs[c.type].push_back(c.seq);
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (auto& [type, list] : seqs) {
        std::sort(list.begin(), list.end());
        int64_t expect = 1;
        for (int64_t seq : list) {
            if (seq > expect && out->size() < max) {
                Poco::JSON::Object gap;
                gap.set("output_type", type);
                gap.set("from", expect);
                gap.set("to", seq - 1);
                out->add(gap);
            }
            expect = std::max(expect, seq + 1);
        }
    }
    return out;
}

}  // namespace exed::shovey
