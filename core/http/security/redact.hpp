// Secrets in job reads: every value of operate_args.extra_vars, and every
// argument named in [api] secret_args (dotted paths such as
// "extra_opts.token"), is replaced by "***" before a job record leaves the
// daemon. The record in Redis keeps the values: the worker needs them.
#pragma once

#include <Poco/JSON/Object.h>

#include <memory>
#include <string>
#include <vector>

namespace exed::http::security {

class Redactor {
public:
    explicit Redactor(std::vector<std::string> extra_paths);
    // Masks, in place, the operate_args of a public job record.
    void job(Poco::JSON::Object::Ptr record) const;
    // Masks, in place, an operation's arguments.
    void args(Poco::JSON::Object::Ptr args) const;
    // A request URI for the logs: query parameters that are secret
    // arguments (GET sync operations take arguments in the query) masked.
    std::string uri(const std::string& uri) const;
    // More paths (what plugins mark secret, known once the plugin host
    // said hello); safe while other threads mask.
    void add(const std::vector<std::string>& extra_paths);

private:
    using Paths = std::vector<std::vector<std::string>>;
    std::shared_ptr<const Paths> paths() const { return std::atomic_load(&paths_); }
    std::shared_ptr<const Paths> paths_;  // replaced whole by add(), read with atomic_load
};

}  // namespace exed::http::security
