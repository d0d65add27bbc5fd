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
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace exed::pluginhost {

// A frame larger than this is a broken peer: the connection is dropped.
constexpr uint32_t kMaxFrame = 256u << 20;

// Reads frames through a buffer: one read serves every frame that has
// arrived (many under load), not two reads per frame.
class FrameReader {
public:
    // While waiting, `also_fd` (a pidfd; -1 for none) is watched too: it
    // turning readable with nothing left to read ends the reading.
    explicit FrameReader(int fd, int also_fd = -1);
    // The next frame's id and text, unparsed; false at EOF or on an error
    // (an oversized frame, a closed socket): the peer is gone either way.
    bool next(int64_t& id, std::string& text);

private:
    int fd_, also_fd_;
    std::string buffer_;
    size_t at_ = 0;  // where the next frame starts in buffer_
};

// A frame's text as an object; nullptr when it is not a JSON object or its
// strings are cut short. Its raw strings go to `strings` when given.
Poco::JSON::Object::Ptr parse_frame(const std::string& text, std::vector<std::string>* strings = nullptr);

class FrameWriter {
public:
    explicit FrameWriter(int fd) : fd_(fd) {}
    // The header's id is the message's "id". False when the peer is gone
    // (the frame was not sent whole).
    bool write(const Poco::JSON::Object& message, const std::vector<std::string>& strings = {});

private:
    int fd_;
    std::mutex mutex_;
};

}  // namespace exed::pluginhost
