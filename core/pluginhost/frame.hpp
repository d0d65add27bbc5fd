// The plugin host's wire format on its unix socket: each message is one
// JSON object (Poco JSON), sent as a 4-byte big-endian length and the
// text. Both ends write from many threads: a FrameWriter serialises them.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <mutex>

namespace exed::pluginhost {

// A frame larger than this is a broken peer: the connection is dropped.
constexpr uint32_t kMaxFrame = 256u << 20;

// Reads one frame; nullptr at EOF or on an error (a short or oversized
// frame, unparsable JSON, a closed socket): the peer is gone either way.
Poco::JSON::Object::Ptr read_frame(int fd);

class FrameWriter {
public:
    explicit FrameWriter(int fd) : fd_(fd) {}
    // False when the peer is gone (the frame was not sent whole).
    bool write(const Poco::JSON::Object& message);

private:
    int fd_;
    std::mutex mutex_;
};

}  // namespace exed::pluginhost
