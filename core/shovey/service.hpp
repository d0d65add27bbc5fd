// The Shovey operations, free of HTTP: create a job (named command, node
// validation, quorum against node status, one exed job per node that is
// up), read its document and its runs, cancel, stream output, node status.
// Bad input is DomainError (invalid, not_found); the routes (shovey/routes.cpp) only map
// requests to these calls.
#pragma once

#include "config.hpp"
#include "shovey/shovey_config.hpp"
#include "shovey/jobs_adapter.hpp"
#include "shovey/runs.hpp"
#include "jobs/shovey_store.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <functional>
#include <string>
#include <vector>

namespace exed::shovey {

inline constexpr size_t kMaxNodes = 1000;    // nodes in one job
inline constexpr int kHistory = 100;         // node status entries kept per node

// A POST /shovey/jobs body, checked against the configured commands: the
// part of create() that needs no store (the request fuzz target runs it).
struct CreateRequest {
    std::string command;
    std::vector<std::string> argv;  // the command's
    std::vector<std::string> nodes;
    int run_timeout = 0;            // s
    size_t required = 0;            // nodes that must be up (the quorum)
    std::string quorum = "100%";    // as given
};
// Throws DomainError(invalid) naming the field.
CreateRequest parse_create(const Config& config, const Poco::JSON::Object::Ptr& body);

class Service {
public:
    Service(const Config& config, const Settings& settings, Store& store, JobsAdapter& jobs)
        : config_(config), settings_(settings), store_(store), jobs_(jobs) {}

    // POST /shovey/jobs: returns the new job's id.
    std::string create(const Poco::JSON::Object::Ptr& body);
    IdPage list(int limit, const std::string& cursor) { return store_.list(limit, cursor); }
    Poco::JSON::Object::Ptr job(const std::string& id);
    // The nodes a job was asked for; not_found when there is no such job.
    std::vector<std::string> nodes_of(const std::string& id) { return require_job(id).nodes; }
    Poco::JSON::Object::Ptr run(const std::string& id, const std::string& node);
    // PUT /shovey/jobs/cancel: returns the job document once the cancelled
    // runs ended (or after cancel_grace + 5 s).
    Poco::JSON::Object::Ptr cancel(const Poco::JSON::Object::Ptr& body);
    // GET /shovey/stream: `type` is stdout, stderr or both.
    Poco::JSON::Object::Ptr stream(const std::string& id, const std::string& node, int64_t sequence,
                                   const std::string& type);

    // The agent-facing PUTs (shovey/reports.cpp): an agent reports its
    // run's status (PUT /shovey/jobs/<id>/<node>) and output chunks (PUT
    // /shovey/stream/<id>/<node>). invalid for a bad body, not_found for
    // no such run, conflict once the run ended. The caller was already
    // authorised as an agent for `node`.
    Poco::JSON::Object::Ptr report_run(const std::string& id, const std::string& node,
                                       const Poco::JSON::Object::Ptr& body);
    Poco::JSON::Object::Ptr report_output(const std::string& id, const std::string& node,
                                          const Poco::JSON::Object::Ptr& body);

    // Node status; url_base ("http://host:port") makes the `url` fields.
    // `visible` leaves out the nodes the caller may not see.
    Poco::JSON::Array::Ptr all_nodes(const std::string& url_base,
                                     const std::function<bool(const std::string&)>& visible);
    Poco::JSON::Array::Ptr node_history(const std::string& node);
    Poco::JSON::Object::Ptr node_latest(const std::string& node);

private:
    JobRecord require_job(const std::string& id);
    // Every node's run, refreshed from its exed job while not terminal
    // (terminal ones are cached in the record).
    std::vector<Run> runs_of(JobRecord& job);
    Poco::JSON::Object::Ptr document(JobRecord& job);
    // The node's run now: its status (and the exed job's output), then
    // with its output (exed job result or reported chunks).
    Run run_status(const JobRecord& job, const std::string& node);
    Run current_run(const JobRecord& job, const std::string& node);
    // Queues the runs of the nodes that are up; fills job.runs.
    void start_runs(JobRecord& job, const std::vector<std::string>& argv,
                    const std::vector<std::string>& up);

    const Config& config_;
    const Settings& settings_;
    Store& store_;
    JobsAdapter& jobs_;
};

// The node's name in the job (not_found when it is not one of its nodes).
const std::string& require_node(const JobRecord& job, const std::string& node);

// Names of nodes and ids as the API accepts them (else 400 / 404).
bool valid_node_name(const std::string& name);
bool valid_job_id(const std::string& id);

}  // namespace exed::shovey
