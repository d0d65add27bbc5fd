// The [salt] section of exe.conf, as the host hands it over (a JSON object of
// strings), parsed and checked once when the plugin is loaded.
#pragma once

#include <string>

namespace exed::salt {

struct SaltConfig {
    std::string api_url = "http://127.0.0.1:8000";  // salt-api (rest_cherrypy) base URL
    std::string username;
    std::string password;       // or read from password_file
    std::string eauth = "pam";  // pam, sharedsecret, ldap, ...
    // Salt's own "timeout": seconds to wait for minions before asking them
    // (saltutil.find_job) whether they still run the job; a minion that does
    // not answer that either is unreachable (status 3).
    int timeout = 10;
    int connect_timeout = 5;     // seconds, TCP/TLS connect to salt-api
    int request_timeout = 0;     // seconds per HTTP request; 0 = timeout + 30
    bool verify_tls = true;
    std::string batch;           // "" = all at once, "N" or "N%" minions per batch
    double poll_interval = 1.0;  // seconds between jobs.lookup_jid polls (no /events)
    double targets_cache = 5.0;  // seconds a key.list_all answer is reused by targets
    bool use_events = true;      // false: never open /events, always poll

    int effective_request_timeout() const {
        return request_timeout > 0 ? request_timeout : timeout + 30;
    }
};

// Parses and validates; throws exed::Error with a message naming the key.
SaltConfig parse_config(const std::string& config_json);

// Batch size for `total` minions: 0 when batching is off.
size_t batch_size(const std::string& batch, size_t total);

}  // namespace exed::salt
