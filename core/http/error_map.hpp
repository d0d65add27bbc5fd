// The one place where the core's errors become HTTP answers.
#pragma once

#include "errors.hpp"
#include "http/api_error.hpp"

namespace exed::http {

// DomainError -> status + {"message"} + the error's details ("busy",
// "unknown", "jid").
ApiError to_api_error(const DomainError& e);

}  // namespace exed::http
