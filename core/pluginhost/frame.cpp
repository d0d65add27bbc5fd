#include "pluginhost/frame.hpp"

#include "json.hpp"

#include <algorithm>
#include <cerrno>
#include <string>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace exed::pluginhost {

namespace {

constexpr size_t kHeader = 4 + 8;  // text length, call id

void put_be(unsigned char* out, int bytes, uint64_t value) {
    for (int i = bytes - 1; i >= 0; --i, value >>= 8) out[i] = static_cast<unsigned char>(value & 0xff);
}

uint64_t get_be(const unsigned char* in, int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = value << 8 | in[i];
    return value;
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

FrameReader::FrameReader(int fd, int also_fd, uint32_t max) : fd_(fd), also_fd_(also_fd), max_(max) {}

bool FrameReader::next(int64_t& id, std::string& text) {
    for (;;) {
        size_t have = buffer_.size() - at_;
        if (skip_ > 0) {  // the body of an oversized frame: dropped, never buffered whole
            size_t n = std::min(skip_, have);
            at_ += n;
            skip_ -= n;
            have -= n;
        }
        if (skip_ == 0 && have >= kHeader) {
            auto head = reinterpret_cast<const unsigned char*>(buffer_.data() + at_);
            size_t size = get_be(head, 4);
            if (size == 0 || size > max_) {  // a bad frame, not a dead peer
                id = int64_t(get_be(head + 4, 8));
                text.clear();
                at_ += kHeader;
                skip_ = size;
                return true;
            }
            if (have >= kHeader + size) {
                id = int64_t(get_be(head + 4, 8));
                text.assign(buffer_, at_ + kHeader, size);
                at_ += kHeader + size;
                return true;
            }
        }
        buffer_.erase(0, at_);
        at_ = 0;
        char chunk[64 * 1024];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n > 0) {
            buffer_.append(chunk, size_t(n));
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
        pollfd fds[2] = {{fd_, POLLIN, 0}, {also_fd_, POLLIN, 0}};
        if (::poll(fds, also_fd_ >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && (fds[1].revents & POLLIN)) return false;
    }
}

Poco::JSON::Object::Ptr parse_frame(const std::string& text, std::vector<std::string>* strings) {
    size_t end = text.find('\0');
    if (end != std::string::npos && strings) {
        for (size_t at = end + 1; at < text.size();) {
            if (text.size() - at < 4) return nullptr;
            size_t size = get_be(reinterpret_cast<const unsigned char*>(text.data() + at), 4);
            at += 4;
            if (text.size() - at < size) return nullptr;
            strings->emplace_back(text, at, size);
            at += size;
        }
    }
    try {
        return parse_json(end == std::string::npos ? text : text.substr(0, end))
            .extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
        return nullptr;
    }
}

Sent FrameWriter::write(const Poco::JSON::Object& message, const std::vector<std::string>& strings) {
    std::string text(kHeader, '\0');  // the header, filled in below
    text += json_string(message);
    if (!strings.empty()) {
        text += '\0';
        for (const auto& s : strings) {
            unsigned char size[4];
            put_be(size, 4, s.size());
            text.append(reinterpret_cast<const char*>(size), sizeof size);
            text += s;
        }
    }
    size_t body = text.size() - kHeader;
    if (body > kMaxFrame) return Sent::too_large;
    unsigned char head[kHeader];
    put_be(head, 4, body);
    put_be(head + 4, 8, uint64_t(message.optValue<int64_t>("id", 0)));
    text.replace(0, kHeader, reinterpret_cast<const char*>(head), kHeader);
    std::lock_guard<std::mutex> lock(mutex_);
    return write_all(fd_, text.data(), text.size()) ? Sent::ok : Sent::gone;
}

}  // namespace exed::pluginhost
