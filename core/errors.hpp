// Why something asked of the core could not be done, in the core's own
// terms. operate/, jobs/ and runner/ throw these; each face (core/http, and
// the next ones) decides how a client sees them: only core/http knows HTTP
// status codes (http/error_map.cpp).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace exed {

enum class Errc {
    invalid,      // the request is wrong (a field, an unknown host pattern, ...)
    not_found,    // a named thing does not exist (a job, a host in sync mode, ...)
    conflict,     // the state forbids it now (busy hosts, a job still running, ...)
    unavailable,  // a dependency is down or full (job store, executor, backlog): retry
    timeout,      // it did not finish in time; it goes on (see jid)
    unsupported,  // the plugin does not implement the operation
    internal,     // a plugin or the core misbehaved
    plugin_crashed,  // the plugin host process died during the call (it is restarted)
};

class DomainError : public std::runtime_error {
public:
    DomainError(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
    Errc code() const { return code_; }

    // What the error is about, when it is about hosts: the busy hosts of a
    // conflict, the unmatched target patterns of an invalid/not_found.
    std::vector<std::string> hosts;
    // The job that goes on after a timeout.
    std::string jid;

private:
    Errc code_;
};

}  // namespace exed
