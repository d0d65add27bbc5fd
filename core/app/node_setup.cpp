#include "app/node_setup.hpp"

#include "http/security/settings.hpp"
#include "nodes/host_entry.hpp"

#include <Poco/Logger.h>
#include <Poco/Path.h>

namespace exed::app {

bool auto_accept(const Settings& s) {
    try {
        return s.raw && s.raw->getBool("agent.auto_accept", false);
    } catch (const Poco::Exception& e) {
        throw ConfigError("[agent] auto_accept must be true or false: " + e.displayText());
    }
}

redis::Url shared_redis_url(const Settings& s) {
    auto url = redis::parse_url(s.redis_url);
    if (url.embedded) url = redis::Url::unix_socket_at(Poco::Path(s.run_dir).absolute().toString() + "/redis.sock");
    return url;
}

NodeRegistryHost::~NodeRegistryHost() {
    if (installed) nodes::install(nullptr, {});
}

void NodeRegistryHost::record(const std::string& who, const std::string& remote, const std::string& operation,
                              const std::string& node, int status) {
    if (!audit) return;
    http::security::AuditEntry e;
    e.token = who;
    e.remote = remote;
    e.method = who.empty() ? "AGENT" : "CLI";
    e.path = who.empty() ? "/agent/connect" : "exed node";
    e.operation = operation;
    e.targets = {node};
    e.status = status;
    audit->record(e);
}

std::unique_ptr<NodeRegistryHost> node_registry_host(const Settings& s, redis::Pool* pool, bool install) {
    auto host = std::make_unique<NodeRegistryHost>();
    if (!pool) {
        host->own_pool = std::make_unique<redis::Pool>(shared_redis_url(s), 4);
        pool = host->own_pool.get();
    }
    host->stream = std::make_unique<jobs::AuditStream>(*pool);
    std::string file;
    int max_entries = 10000;
    try {
        auto sec = http::security::load_security_settings(s);
        file = sec.audit_log;
        max_entries = sec.audit_max;
    } catch (const std::exception& e) {
        Poco::Logger::get("exed.nodes").warning(std::string("node audit: ") + e.what());
    }
    http::security::AuditStore store;
    auto* stream = host->stream.get();
    store.append = [stream](const std::string& line, int max) { stream->append(line, max); };
    host->audit = std::make_unique<http::security::AuditLog>(file, max_entries, store);
    host->registry = std::make_unique<nodes::Registry>(*pool, auto_accept(s));
    if (install) {
        auto* h = host.get();
        h->installed = true;
        nodes::install(h->registry.get(), [h](const std::string& node, const std::string& remote,
                                              const std::string& fp, const std::string& verdict) {
            (void)fp;
            h->record("", remote, "agent " + verdict, node, 403);
        });
    }
    return host;
}

}  // namespace exed::app
