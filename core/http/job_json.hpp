// The REST shape of a job record (GET /jobs/<jid>, the first line of a
// follow stream). The face's view, not the store's: jobs/ knows no API.
#pragma once

#include "jobs/model.hpp"

#include <Poco/JSON/Object.h>

#include <map>
#include <string>

namespace exed::http {

// return_data only when `returns` is given. "operate_args" is the request's
// arguments: the job's document without its "targets" (shown on their own).
Poco::JSON::Object::Ptr job_json(const jobs::Job& job,
                                 const std::map<std::string, std::string>* returns);

}  // namespace exed::http
