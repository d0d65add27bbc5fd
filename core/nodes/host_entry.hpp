// The node registry as plugins reach it: the SDK 1.4 host-API entry
// `node_registry` (sdk.h) is served by serve_request() in whichever process
// hosts the plugins -- exed itself, or its plugin host, which opens its own
// Redis pool (both wire it with install()). Refusals a plugin reports
// (another key for a known name, a rejected node) are logged and audited
// here, in the core, so an executor cannot forget to.
#pragma once

#include "nodes/registry.hpp"

#include <functional>
#include <string>

namespace exed::nodes {

// (node, remote address, fingerprint, verdict): one audit line per refusal.
using RefusalAudit = std::function<void(const std::string& node, const std::string& remote,
                                        const std::string& fingerprint, const std::string& verdict)>;

// Process-wide; `registry` must outlive every plugin call. Not installed:
// the entry answers EXED_ERR_UNSUPPORTED ("no node registry").
void install(Registry* registry, RefusalAudit audit);

// request_json: {"op":"present","node","public_key","remote"} ->
//   {"state":"accepted|pending|rejected|mismatch|full","fingerprint"}
// {"op":"get","node"} -> {"name","state","fingerprint","first_seen","last_seen"} (3: unknown)
// {"op":"list"} -> {"nodes":[{"name","state","fingerprint","first_seen","last_seen"}, ...]}
// Returns an exed_status; `out` is the answer or {"message"}.
int serve_request(const std::string& request_json, std::string& out);

}  // namespace exed::nodes
