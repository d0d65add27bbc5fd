// The operations core's one documented way to run an operation without a
// job: a read-only operation of the catalogue (ping, facter) on some hosts,
// answered now. Shovey's node check uses it (core/shovey/jobs_adapter.cpp).
//
// It is the job path up to the job itself, not a second one: the same
// Submitter::prepare as every job (the catalogue's plugin and plugin op,
// target expansion, the plugin's check, the one arguments document), then
// the same ExecutorClient::run with that document that a worker makes for a
// job of the operation. What it leaves out is the job: no host locks (the
// operation changes nothing, and a node check must reach a node that is
// busy with a long command), no record, no queue, no events (checking a
// fleet every status_interval would flood the job listing). Hence read-only
// operations only (docs/architecture.md, "One operation path").
#pragma once

#include "operate/submitter.hpp"
#include "plugins/executor_client.hpp"

#include <Poco/Dynamic/Var.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

namespace exed::operate {

struct ReadOnlyAnswer {
    std::vector<std::string> hosts;  // the expanded targets the operation ran on
    // host -> its result as parsed from the executor's answer (an object
    // when well-formed), for the hosts the operation answered for.
    std::map<std::string, Poco::Dynamic::Var> results;
    // Why the operation failed as a whole ("" when it answered): then
    // results is empty.
    std::string error;
    bool ok() const { return error.empty(); }
};

class ReadOnlyCall {
public:
    ReadOnlyCall(Submitter& submitter, plugins::ExecutorClient& client)
        : submitter_(submitter), client_(client) {}

    // Runs `s` now and waits for its answer; `stop` turning true cancels the
    // call (the plugin sees is_cancelled). Throws DomainError: invalid for an
    // operation the catalogue does not mark read-only, and whatever
    // Submitter::prepare throws (unmatched host, executor not loaded, ...).
    ReadOnlyAnswer run(const Submission& s, const std::atomic<bool>& stop);

private:
    Submitter& submitter_;
    plugins::ExecutorClient& client_;
};

}  // namespace exed::operate
