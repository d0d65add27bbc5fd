// The wire format of GET /jobs/<jid>?follow=1: one job event as an NDJSON
// line or an SSE block, and the check of a client's resume id (after= or
// Last-Event-ID). Apart from the route so both can be fuzzed on their own
// (tests/fuzz/), and so the framing holds whatever an event carries.
#pragma once

#include <string>

namespace exed::http {

// A Redis stream id "<ms>" or "<ms>-<seq>", each part a decimal that fits
// in 64 bits unsigned (what XREAD accepts). Anything else must be refused
// before the 200 of a follow is sent: Redis would refuse it mid-stream.
bool valid_stream_id(const std::string& id);

// {"event":type,"id":id,"data":data}\n, or "id: …\nevent: …\ndata: …\n\n".
// `data` is the event's JSON; "" stands for null. The result is always one
// NDJSON line (CR and LF inside `data` become spaces: in JSON they can only
// be whitespace) or one SSE block (each line of `data` on its own "data:"
// line, CR/LF dropped from the type and id), so no event can forge another.
std::string format_event(bool sse, const std::string& type, const std::string& id,
                         const std::string& data);

}  // namespace exed::http
