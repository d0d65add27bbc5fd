// An error as the HTTP face answers it: a status, a message, and optional
// extra JSON fields (e.g. the busy hosts of a 409, the jid of a 504).
// Only core/http throws these; the core below throws DomainError.
#pragma once

#include <Poco/JSON/Object.h>

#include <stdexcept>
#include <string>

namespace exed {

class ApiError : public std::runtime_error {
public:
    ApiError(int status, const std::string& message, Poco::JSON::Object::Ptr extra = nullptr)
        : std::runtime_error(message), status_(status), extra_(extra) {}
    int status() const { return status_; }
    Poco::JSON::Object::Ptr extra() const { return extra_; }

private:
    int status_;
    Poco::JSON::Object::Ptr extra_;
};

}  // namespace exed
