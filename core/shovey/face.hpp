// The Shovey face wired up: the adapter onto the job manager, the
// operations, the node checker, and its routes on the HTTP router, over the
// store the app hands it (a face holds no Redis handle: app/ wires).
// Built by the app before the server starts; stops its checker when gone.
#pragma once

#include "config.hpp"
#include "http/router.hpp"
#include "operate/job_service.hpp"
#include "operate/read_only_call.hpp"
#include "operate/submitter.hpp"
#include "shovey/shovey_config.hpp"
#include "shovey/jobs_adapter.hpp"
#include "shovey/node_checker.hpp"
#include "shovey/routes.hpp"
#include "shovey/service.hpp"
#include "jobs/shovey_store.hpp"

#include <string>

namespace exed::shovey {

class Face {
public:
    // `name` identifies this process in the check lease.
    Face(Config config, const Settings& settings, Store& store, operate::Submitter& submitter,
         operate::JobService& jobs, operate::ReadOnlyCall& read_only, http::Router& router,
         const std::string& name, Access access);
    ~Face();

private:
    Config config_;
    Access access_;
    Store& store_;
    JobsAdapter adapter_;
    Service service_;
    NodeChecker checker_;
    int metrics_id_ = 0;  // exed_shovey_nodes in /metrics
};

}  // namespace exed::shovey
