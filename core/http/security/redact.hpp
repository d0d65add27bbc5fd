// Secrets in job reads: every value of operate_args.extra_vars, and every
// argument named in [api] secret_args (dotted paths such as
// "extra_opts.token"), is replaced by "***" before a job record leaves the
// daemon. The record in Redis keeps the values: the worker needs them.
#pragma once

#include <Poco/JSON/Object.h>

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

private:
    std::vector<std::vector<std::string>> paths_;
};

}  // namespace exed::http::security
