#include "gated_socket.hpp"

#include <Poco/Exception.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>

namespace exed::agent_wire {

GatedSocketImpl::GatedSocketImpl(Poco::Net::StreamSocket real)
    : Poco::Net::StreamSocketImpl(real.impl()->sockfd()), real_(std::move(real)) {}

// The descriptor is the real socket's: never closed from here.
GatedSocketImpl::~GatedSocketImpl() { reset(); }

void GatedSocketImpl::close() {
    reset();
    real_.close();
}

GatedSocketImpl::Pulled GatedSocketImpl::pull(size_t cap) {
    if (pos_ > 0 && pos_ * 2 >= in_.size()) {  // consumed bytes go before the buffer grows
        in_.erase(0, pos_);
        pos_ = 0;
        // One big frame must not keep its memory on an idle connection
        // (thousands of them).
        if (in_.empty() && in_.capacity() > (1 << 20)) in_.shrink_to_fit();
    }
    Pulled got = Pulled::none;
    char chunk[65536];
    while (in_.size() - pos_ < cap) {
        size_t want = std::min(sizeof chunk, cap - (in_.size() - pos_));
        long n;
        if (real_.secure()) {
            // The real socket is non-blocking with a receive timeout of 0:
            // when OpenSSL has no whole record, Poco throws TimeoutException
            // (or returns < 0) at once instead of waiting.
            try {
                n = real_.receiveBytes(chunk, int(want));
            } catch (const Poco::TimeoutException&) {
                return got;
            } catch (const Poco::Exception&) {
                return Pulled::eof;
            }
            if (n < 0) return got;
        } else {
            n = ::recv(real_.impl()->sockfd(), chunk, want, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno == EAGAIN || errno == EWOULDBLOCK ? got : Pulled::eof;
            }
        }
        if (n == 0) return Pulled::eof;
        in_.append(chunk, size_t(n));
        got = Pulled::some;
    }
    return got;
}

int GatedSocketImpl::receiveBytes(void* buffer, int length, int flags) {
    if (pass_through_ && pos_ == in_.size()) return real_.receiveBytes(buffer, length, flags);
    size_t n = std::min({in_.size() - pos_, size_t(std::max(length, 0)), serve_left_});
    std::memcpy(buffer, in_.data() + pos_, n);
    pos_ += n;
    if (serve_left_ != SIZE_MAX) serve_left_ -= n;
    return int(n);
}

int GatedSocketImpl::available() { return int(std::min({in_.size() - pos_, serve_left_, size_t(INT32_MAX)})); }

uint64_t whole_frame_bytes(std::string_view b, uint64_t& payload) {
    auto byte = [&](size_t i) { return uint64_t(static_cast<unsigned char>(b[i])); };
    if (b.size() < 2) return 0;
    uint64_t length = byte(1) & 0x7f;
    size_t header = 2;
    if (length == 126) {  // RFC 6455 5.2: a 16-bit length follows
        if (b.size() < 4) return 0;
        length = byte(2) << 8 | byte(3);
        header = 4;
    } else if (length == 127) {  // a 64-bit length follows
        if (b.size() < 10) return 0;
        length = 0;
        for (size_t i = 2; i < 10; ++i) length = length << 8 | byte(i);
        header = 10;
    }
    if (byte(1) & 0x80) header += 4;  // the masking key
    payload = length;
    if (length > UINT64_MAX - header) return UINT64_MAX;
    return header + length;
}

}  // namespace exed::agent_wire
