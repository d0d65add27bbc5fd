// Fuzz target: the connection event thread's request gate
// (core/http/request_gate.cpp), which frames requests from untrusted bytes
// before any authentication. Input: the bytes a client sent.
// Oracle: no exception escapes; a refusal is one of 400/411/413/431 with a
// message; a whole request is the input's first `length` bytes, whose
// header Poco (as the worker) reads back ending where the gate said, with
// a length equal to the body after it; anything else is a finding.
#include "http/request_gate.hpp"

#include <Poco/Net/HTTPRequest.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string buf(reinterpret_cast<const char*>(data), size);
    exed::http::GateLimits limits{4096, 4096};
    exed::http::Gate g = exed::http::inspect_request(buf, limits);
    using exed::http::Gate;
    if (g.kind == Gate::refuse) {
        if (g.message.empty()) __builtin_trap();
        if (g.status != 400 && g.status != 411 && g.status != 413 && g.status != 431) __builtin_trap();
        return 0;
    }
    if (g.kind == Gate::more) {
        if (g.header_done && g.length <= buf.size()) __builtin_trap();
        return 0;
    }
    if (!g.header_done || g.length > buf.size() || g.request != buf.substr(0, g.length)) __builtin_trap();
    std::istringstream in(g.request);
    Poco::Net::HTTPRequest head;
    try {
        head.read(in);
    } catch (...) {
        __builtin_trap();  // the gate accepted a header the worker cannot parse
    }
    std::string rest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // After the header's blank line comes exactly the body.
    bool has_length = head.hasContentLength();
    if (has_length && head.getContentLength64() != Poco::Int64(rest.size())) __builtin_trap();
    if (!has_length && !rest.empty()) __builtin_trap();
    if (head.has("Transfer-Encoding")) __builtin_trap();
    return 0;
}
