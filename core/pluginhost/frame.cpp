#include "pluginhost/frame.hpp"

#include "json.hpp"

#include <cerrno>
#include <string>

#include <sys/socket.h>
#include <unistd.h>

namespace exed::pluginhost {

namespace {

bool read_all(int fd, char* data, size_t size) {
    while (size > 0) {
        ssize_t n = ::read(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= size_t(n);
    }
    return true;
}

bool write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        // MSG_NOSIGNAL: a dead peer is an error here, not a SIGPIPE for the process.
        ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= size_t(n);
    }
    return true;
}

}  // namespace

Poco::JSON::Object::Ptr read_frame(int fd) {
    unsigned char head[4];
    if (!read_all(fd, reinterpret_cast<char*>(head), sizeof head)) return nullptr;
    uint32_t size = uint32_t(head[0]) << 24 | uint32_t(head[1]) << 16 | uint32_t(head[2]) << 8 | head[3];
    if (size == 0 || size > kMaxFrame) return nullptr;
    std::string text(size, '\0');
    if (!read_all(fd, text.data(), size)) return nullptr;
    try {
        return parse_json(text).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
        return nullptr;
    }
}

bool FrameWriter::write(const Poco::JSON::Object& message) {
    std::string text = json_string(message);
    if (text.size() > kMaxFrame) return false;
    uint32_t size = uint32_t(text.size());
    text.insert(0, std::string{char(size >> 24), char(size >> 16 & 0xff), char(size >> 8 & 0xff),
                               char(size & 0xff)});
    std::lock_guard<std::mutex> lock(mutex_);
    return write_all(fd_, text.data(), text.size());
}

}  // namespace exed::pluginhost
