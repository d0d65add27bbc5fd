// Fuzz target: the follow stream's framing (NDJSON line / SSE block) and
// the resume-id check. Oracle: whatever type, id and data hold, one event
// is one NDJSON line, or one SSE block whose lines are all id:/event:/data:.
#include "http/event_format.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
    std::string in(reinterpret_cast<const char*>(bytes), size);
    // type \0 id \0 data
    size_t a = in.find('\0');
    size_t b = a == std::string::npos ? a : in.find('\0', a + 1);
    std::string type = in.substr(0, a);
    std::string id = a == std::string::npos ? "" : in.substr(a + 1, b == std::string::npos ? b : b - a - 1);
    std::string data = b == std::string::npos ? "" : in.substr(b + 1);
    exed::http::valid_stream_id(in);
    exed::http::valid_stream_id(id);

    std::string line = exed::http::format_event(false, type, id, data);
    if (line.empty() || line.back() != '\n' || line.find_first_of("\r\n") != line.size() - 1)
        __builtin_trap();  // NDJSON: exactly one line

    std::string block = exed::http::format_event(true, type, id, data);
    if (block.size() < 2 || block.compare(block.size() - 2, 2, "\n\n") != 0) __builtin_trap();
    size_t start = 0;
    while (start < block.size() - 1) {
        size_t nl = block.find('\n', start);
        std::string l = block.substr(start, nl - start);
        if (l.find('\r') != std::string::npos) __builtin_trap();
        if (l.rfind("id: ", 0) != 0 && l.rfind("event: ", 0) != 0 && l.rfind("data: ", 0) != 0)
            __builtin_trap();  // a line that forges a field or ends the block early
        start = nl + 1;
    }
    return 0;
}
