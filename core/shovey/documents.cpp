#include "shovey/documents.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <map>

namespace exed::shovey {

std::string rfc3339(int64_t epoch_ms) {
    if (epoch_ms <= 0) return "";
    return Poco::DateTimeFormatter::format(Poco::Timestamp(Poco::Timestamp::TimeVal(epoch_ms) * 1000),
                                           Poco::DateTimeFormat::ISO8601_FRAC_FORMAT);
}

Poco::JSON::Object::Ptr job_document(const JobRecord& job, const std::vector<Run>& runs,
                                     const std::string& status, int64_t updated_ms) {
    Poco::JSON::Object::Ptr d = new Poco::JSON::Object;
    d->set("command", job.command);
    d->set("created_at", rfc3339(job.created_ms));
    d->set("id", job.id);
    // Names grouped by status; in the job's node order within a group.
    std::map<std::string, Poco::JSON::Array::Ptr> groups;
    for (auto& r : runs) {
        auto& g = groups[r.status];
        if (!g) g = new Poco::JSON::Array;
        g->add(r.node);
    }
    Poco::JSON::Object::Ptr nodes = new Poco::JSON::Object;
    for (auto& [s, names] : groups) nodes->set(s, names);
    d->set("nodes", nodes);
    d->set("run_timeout", job.run_timeout);
    d->set("status", status);
    d->set("updated_at", rfc3339(updated_ms));
    if (!job.error.empty()) d->set("error", job.error);
    return d;
}

Poco::JSON::Object::Ptr run_document(const std::string& id, const Run& run) {
    Poco::JSON::Object::Ptr d = new Poco::JSON::Object;
    d->set("run_id", id);
    d->set("node_name", run.node);
    d->set("status", run.status);
    d->set("ack_time", rfc3339(run.ack_ms));
    d->set("end_time", rfc3339(run.end_ms));
    d->set("output", run.stdout_text);
    d->set("error", run.error);
    d->set("stderr", run.stderr_text);
    // null until the command exited (down, cancelled, killed, unreachable...)
    if (run.exit_status) d->set("exit_status", *run.exit_status);
    else d->set("exit_status", Poco::Dynamic::Var());
    if (!run.jid.empty()) d->set("jid", run.jid);
    if (run.reported) d->set("reported", true);  // status from the agent's own report
    if (!run.reported_chunks.empty()) {
        auto gaps = output_gaps(run.reported_chunks);
        if (gaps->size()) d->set("output_gaps", gaps);  // sequence numbers the agent skipped
    }
    return d;
}

Poco::JSON::Object::Ptr node_document(const NodeStatus& s, const std::string& url) {
    Poco::JSON::Object::Ptr d = new Poco::JSON::Object;
    d->set("node_name", s.node);
    d->set("status", s.status);
    d->set("updated_at", rfc3339(s.updated_ms));
    if (!url.empty()) d->set("url", url);
    return d;
}

}  // namespace exed::shovey
