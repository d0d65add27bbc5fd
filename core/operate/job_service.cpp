#include "operate/job_service.hpp"

#include "catalogue.hpp"
#include "errors.hpp"
#include "jobs/queue.hpp"

#include <Poco/RegularExpression.h>

namespace exed::operate {

jobs::Job JobService::get(const std::string& jid) {
    static const Poco::RegularExpression shape("^[A-Za-z0-9-]{1,64}$");
    std::optional<jobs::Job> job;
    if (shape.match(jid)) job = store_.get(jid);
    if (!job) throw DomainError(Errc::not_found, "no such job: " + jid);
    return *job;
}

std::optional<jobs::Job> JobService::find(const std::string& jid) { return store_.get(jid); }

jobs::Page JobService::list(int limit, const std::string& cursor, bool details) {
    return store_.list(limit, cursor, details);
}

std::map<std::string, std::string> JobService::returns(const std::string& jid) {
    return store_.returns(jid);
}

std::vector<jobs::Event> JobService::events(const std::string& jid, const std::string& after_id,
                                            int count, int block_ms) {
    return store_.events(jid, after_id, count, block_ms);
}

void JobService::remove(const std::string& jid) {
    auto job = get(jid);
    if (!jobs::status::terminal(job.status)) {
        throw DomainError(Errc::conflict, "job " + job.jid + " is " + job.status +
                                              "; cancel it first with POST /jobs/" + job.jid +
                                              "/cancel");
    }
    store_.remove(job.jid);
}

bool JobService::cancel(const jobs::Job& job) {
    if (jobs::status::terminal(job.status))
        throw DomainError(Errc::conflict, "job " + job.jid + " already ended (" + job.status + ")");
    store_.request_cancel(job.jid);
    // A running job is stopped by its worker within a moment (its processes
    // get SIGTERM, then SIGKILL); a queued one ends here.
    return job.status == jobs::status::queued &&
           store_.finish(job.jid, jobs::Failure, jobs::status::cancelled, "cancelled", {},
                         job.targets, jobs::status::queued);
}

Health JobService::health() {
    Health h;
    h.store_ok = store_up();
    h.executor_loaded = client_.available(client_.executor());
    if (h.executor_loaded) {
        auto answer = client_.health();
        if (!answer.ok()) h.executor_error = answer.error.empty() ? "not ready" : answer.error;
    }
    return h;
}

bool JobService::store_up() { return pool_.ping(); }

int64_t JobService::queue_depth() { return jobs::Queue(pool_).backlog(); }

}  // namespace exed::operate
