// Wiring of the node registry (core/nodes) into a process: exed (with its
// own pool), its plugin host and the `exed node` CLI (each with a pool of
// their own to the same Redis). Refusals and operator actions go to the
// audit trail: [log] audit_log and the `exed:audit` stream GET /audit reads.
#pragma once

#include "config.hpp"
#include "http/security/audit.hpp"
#include "jobs/audit_stream.hpp"
#include "nodes/registry.hpp"
#include "redis/pool.hpp"

#include <memory>
#include <string>

namespace exed::app {

struct NodeRegistryHost {
    ~NodeRegistryHost();  // stops serving the host-API entry from it
    bool installed = false;
    std::unique_ptr<redis::Pool> own_pool;  // when no pool was given
    std::unique_ptr<jobs::AuditStream> stream;
    std::unique_ptr<http::security::AuditLog> audit;
    std::unique_ptr<nodes::Registry> registry;
    // One audit line: `who` in the token field (a CLI user, or "" for an agent).
    void record(const std::string& who, const std::string& remote, const std::string& operation,
                const std::string& node, int status);
};

// [agent] auto_accept (default false).
bool auto_accept(const Settings& s);

// exed's Redis as another process reaches it: runner.redis_url, or the
// embedded server's socket under run_dir. Throws std::invalid_argument.
redis::Url shared_redis_url(const Settings& s);

// `pool` nullptr: opens its own pool to shared_redis_url(). `install`:
// serves the SDK's node_registry host-API entry from it in this process.
std::unique_ptr<NodeRegistryHost> node_registry_host(const Settings& s, redis::Pool* pool, bool install);

}  // namespace exed::app
