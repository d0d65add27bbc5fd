// Text a request carries that handlers, jobs and plugins may read: its
// path (decoded), its query parameters (names and values, decoded) and its
// headers (names and values). Each must be valid UTF-8 (core/utf8.hpp),
// checked before anything else runs: one byte 0xff in a host pattern once
// reached the plugin host as JSON it could not parse, and took it down with
// every job it ran (issue 23). Bodies are checked by Context::body_object.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/NameValueCollection.h>

#include <string>

namespace exed::http {

// Throws ApiError 400 naming the part (never echoing the bad bytes).
void refuse_invalid_utf8(const Poco::Net::HTTPServerRequest& request, const std::string& path,
                         const Poco::Net::NameValueCollection& query);

}  // namespace exed::http
