// exe.conf, parsed once into typed settings. Key names and defaults follow
// the EXEd spec ([api] [runner] [log] [ansible]) plus exed's own additions.
#pragma once

#include <Poco/Util/AbstractConfiguration.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace exed {

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Settings {
    // [api]
    std::string listen = "127.0.0.1";
    int listen_port = 16808;
    std::string pid_file;            // empty: no pid file
    size_t max_body = 1 << 20;       // bytes; larger bodies get 413
    int sync_timeout = 60;           // s a sync (GET) operation may take before 504
    int http_threads = 64;           // request workers; follow streams and idle connections hold none
                                     // (a sync operation holds one until it answers: room for 60 of them)
    int max_connections = 1024;      // open client connections; past it: 503 JSON and close
    int header_timeout = 10;         // s a client has to send a whole request header (slowloris)
    int keepalive_timeout = 15;      // s an idle keep-alive connection is kept
    int request_timeout = 30;        // s a client has to send a whole request, header and body (then 408)
    int handshake_timeout = 10;      // s a TLS client has to finish its handshake
    std::string auth_token;          // empty: no authentication
    // [runner]
    std::string executor = "ansible";
    int concurrency = 1;             // jobs at once in this process (0: API only)
    std::string redis_url = "redis://127.0.0.1:6379";
    std::string broker_url;          // accepted for EXEd compatibility, unused
    std::string run_dir = "run";     // embedded redis, ssh control sockets, temp files
    int job_ttl = 7 * 24 * 3600;     // s finished jobs are kept
    int run_timeout = 3600;          // s a job may run before it is killed
    int lease = 30;                  // s of lock/queue leases (renewed while running)
    int cancel_grace = 5;            // s between SIGTERM and SIGKILL
    int max_queued = 10000;          // jobs waiting for a worker before submits get 503
    std::string job_secret;          // signs jobs; shared by API and workers (empty: run_dir/job.key)
    // [log]
    std::string log_level = "debug";
    std::string error_log;           // empty or "-": stdout
    std::string access_log;          // empty or "-": stdout
    // [plugins]
    std::vector<std::string> plugin_dirs;
    std::string plugin_isolation = "process";  // process (a plugin host process) | in_process

    std::string config_path;         // absolute path of the file read
    Poco::AutoPtr<Poco::Util::AbstractConfiguration> raw;

    // The keys of section [name] as a JSON object of strings (plugin config).
    std::string section_json(const std::string& name) const;
};

// Reads and validates `path`. Throws ConfigError with one clear sentence.
Settings load_settings(const std::string& path);

// Default plugin dirs: the install dir and the build tree's plugin dir.
std::vector<std::string> default_plugin_dirs();

}  // namespace exed
