// The one way the core reaches plugins: the operations core (submitter and
// its read-only call, on request threads) and the runner (on worker
// threads) call this, never Plugin::invoke.
//
// Two implementations, chosen by [plugins] isolation
// (pluginhost/make_client.hpp): PluginHostClient (core/pluginhost, the
// default, "process") sends every call to the supervised plugin host
// process; InProcessClient (in_process_client.hpp, "in_process", for
// debugging and the bench baseline) calls the plugins loaded into exed.
// Because one of them is across a socket, everything that crosses the seam
// is data: JSON text in and out, names instead of pointers. The one live
// object is the CallHooks of a run: the events, cancel flag, deadline and
// process tracking of a job, which the plugin host's client forwards both
// ways (cancel reaches a running op through CallHooks::cancelled() and the
// process groups it tracked).
#pragma once

#include "plugins/plugin.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace exed::plugins {

// A plugin by name: kind ("executor" | "releaser") and type ("ansible", ...).
struct PluginRef {
    std::string kind;
    std::string type;
};

// Target expansion and argument check of a job to be, in one call.
struct PrepareRequest {
    PluginRef plugin;                   // who will run the op
    std::string op;                     // its op; empty: only expand the patterns
    std::vector<std::string> patterns;  // expanded by the configured executor
    std::string args_json;              // the op's arguments, a JSON object without "targets"
    // A sync request's deadline: no wait of the call (for a restarting
    // plugin host, for the answer) goes past it. max(): the client's own bounds.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// Statuses of the seam itself, next to the exed_status values a plugin
// returns (never returned by a plugin): the plugin host process died during
// the call, or is not running (being restarted after a crash).
constexpr int kStatusCrashed = 1000;
constexpr int kStatusHostDown = 1001;
// The host died of another call's crash while this one ran: not this
// call's fault (a read-only job is simply run again, uncounted).
constexpr int kStatusBystander = 1002;
// The request's deadline passed before the call ended.
constexpr int kStatusTimedOut = 1003;
// How the error of a call the plugin host died in begins (a job's error
// too: a sync request answers such a failure 502, not 500).
constexpr const char* kHostCrashedError = "the plugin host crashed";

struct Prepared {
    // EXED_OK, or why the job cannot be: the plugin's check refused
    // (EXED_ERR_BAD_INPUT, EXED_ERR_NOT_FOUND, ...), the plugin does not
    // implement the op (EXED_ERR_UNSUPPORTED) or failed (EXED_ERR).
    int status = EXED_OK;
    std::string error;
    std::vector<std::string> hosts;      // matched hosts, in order, without duplicates
    std::vector<std::string> unmatched;  // patterns that matched nothing (then nothing is checked)
    // The job's arguments document: args_json plus "targets" = hosts, as
    // the plugin checked it. Stored and signed as is, handed to run() as is.
    std::string document;
    bool ok() const { return status == EXED_OK && unmatched.empty(); }
};

class ExecutorClient {
public:
    virtual ~ExecutorClient() = default;

    // Whether `plugin` can be called through this client now.
    virtual bool available(const PluginRef& plugin) const = 0;
    // Whether `plugin` implements `op` (false when it is not available).
    virtual bool implements(const PluginRef& plugin, const std::string& op) const = 0;

    // Expands the patterns and, when `op` is set and every pattern matched,
    // checks the arguments with the hosts as "targets". Never throws for
    // what a plugin does.
    virtual Prepared prepare(const PrepareRequest& request) = 0;

    // Runs `op` of `plugin` with the document from prepare(), inside the
    // job whose hooks are given; blocks until the op ends.
    virtual OpResult run(const PluginRef& plugin, const std::string& op,
                         const std::string& document, CallHooks& hooks) = 0;

    // The configured executor, which expands targets and serves releasers'
    // run_executor.
    virtual PluginRef executor() const = 0;

    // The configured executor's check of "health" (e.g. salt-api
    // reachable); OK when it has no check.
    virtual OpResult health() = 0;

    // Waits up to `wait` until the plugins are loaded (a plugin host
    // started in the background said hello); true when they are.
    virtual bool wait_ready(std::chrono::milliseconds) { return true; }
    // Whether they are loaded now.
    virtual bool ready() const { return true; }
};

}  // namespace exed::plugins
