// Decides, on the connection event thread, whether the bytes a client has
// sent so far hold one whole request (header + Content-Length bytes of
// body), so that a request worker only ever gets a request it can run
// without waiting on the client. The header is parsed with Poco's own
// HTTPRequest parser (the one the worker will use again), never by hand.
#pragma once

#include <cstddef>
#include <string>

namespace exed::http {

struct GateLimits {
    size_t max_header = 16384;  // request line + headers (431 past it)
    size_t max_body = 1 << 20;  // Content-Length past it: 413
};

struct Gate {
    enum Kind {
        more,      // keep reading (header or body incomplete)
        complete,  // `request` is the whole request; bytes past `length` belong to the next one
        refuse,    // answer `status` {"message"} and close
    } kind = more;
    bool header_done = false;      // the header has arrived (the request deadline now runs)
    bool expect_continue = false;  // the client waits for "100 Continue" before its body
    size_t length = 0;             // header_done: bytes of the input that make this request
    std::string request;           // complete: the request's bytes, for the worker
    int status = 0;
    std::string message;
};

// `buf`: every byte received since the request began.
Gate inspect_request(const std::string& buf, const GateLimits& limits);

}  // namespace exed::http
