// The plugin host's wire format on its unix socket: each message is one
// JSON object (Poco JSON), sent as a 4-byte big-endian length of the
// text, the 8-byte big-endian call id (its "id", 0 for none), and the
// text. The id in the header lets exed's reader thread hand a frame to its
// call without parsing it: the calling thread parses (and later frees) it,
// so the reader stays cheap and no thread frees another's allocations.
// Bulky string data (a prepare's host list and document) may follow the
// JSON as raw strings: a NUL (never in JSON text), then each string as a
// 4-byte big-endian length and its bytes. That spares a JSON value, an
// escape pass and a parse per host on both ends (docs/performance.md).
// Both ends write from many threads: a FrameWriter serialises them.
//
// One bad frame is that frame's problem, never the connection's: a reader
// hands over a frame whose text cannot be parsed (not JSON, a length past
// the limit: its bytes are skipped) as an empty or unparseable text, and
// the receiving end fails the one call it belongs to (its header's id) and
// reads on (issue 23). Only EOF or a socket error ends the reading.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace exed::pluginhost {

// The largest frame: a writer refuses to send more, a reader skips more.
constexpr uint32_t kMaxFrame = 256u << 20;

// Reads frames through a buffer: one read serves every frame that has
// arrived (many under load), not two reads per frame.
class FrameReader {
public:
    // While waiting, `also_fd` (a pidfd; -1 for none) is watched too: it
    // turning readable with nothing left to read ends the reading.
    // Frames longer than `max` bytes are skipped (kMaxFrame but in tests).
    explicit FrameReader(int fd, int also_fd = -1, uint32_t max = kMaxFrame);
    // The next frame's id and text, unparsed; false at EOF or on a socket
    // error: the peer is gone. An empty frame, or one longer than the
    // limit (its bytes are skipped as they arrive), comes with an empty
    // text, which no parse accepts: only its call fails.
    bool next(int64_t& id, std::string& text);

private:
    int fd_, also_fd_;
    uint32_t max_;
    std::string buffer_;
    size_t at_ = 0;    // where the next frame starts in buffer_
    size_t skip_ = 0;  // bytes of an oversized frame still to drop
};

// A frame's text as an object; nullptr when it is not a JSON object or its
// strings are cut short. Its raw strings go to `strings` when given.
Poco::JSON::Object::Ptr parse_frame(const std::string& text, std::vector<std::string>* strings = nullptr);

// How a write went: sent whole, refused as longer than kMaxFrame (nothing
// was sent; the connection is fine), or the peer is gone.
enum class Sent { ok, too_large, gone };

class FrameWriter {
public:
    explicit FrameWriter(int fd) : fd_(fd) {}
    // The header's id is the message's "id". The JSON is valid UTF-8
    // whatever the message's strings hold (json_string repairs them).
    Sent write(const Poco::JSON::Object& message, const std::vector<std::string>& strings = {});

private:
    int fd_;
    std::mutex mutex_;
};

}  // namespace exed::pluginhost
