#include "http/buffered_socket.hpp"

#include <algorithm>
#include <cstring>

namespace exed::http {

BufferedSocketImpl::BufferedSocketImpl(Poco::Net::StreamSocket real, std::string request)
    : Poco::Net::StreamSocketImpl(real.impl()->sockfd()), real_(std::move(real)), request_(std::move(request)) {}

// The descriptor is the real socket's: never closed from here.
BufferedSocketImpl::~BufferedSocketImpl() { reset(); }

int BufferedSocketImpl::receiveBytes(void* buffer, int length, int) {
    size_t n = std::min(request_.size() - read_, size_t(std::max(length, 0)));
    std::memcpy(buffer, request_.data() + read_, n);
    read_ += n;
    return int(n);
}

int BufferedSocketImpl::sendBytes(const void* buffer, int length, int flags) {
    return real_.sendBytes(buffer, length, flags);
}

void BufferedSocketImpl::close() {
    reset();
    if (forward_close_) real_.close();
}

void BufferedSocketImpl::setBlocking(bool flag) { real_.setBlocking(flag); }

}  // namespace exed::http
