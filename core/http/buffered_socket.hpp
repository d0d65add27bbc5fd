// The socket a request worker runs one request on: reads come from the
// request the event thread already received (header + body), never from
// the client, so a worker never waits for a slow client. Everything else
// (writes, timeouts, close, TLS) goes to the client's real socket, which
// stays the owner of the file descriptor; a follow stream that detaches
// this socket keeps the real one alive through it.
#pragma once

#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>

#include <string>

namespace exed::http {

class BufferedSocketImpl : public Poco::Net::StreamSocketImpl {
public:
    BufferedSocketImpl(Poco::Net::StreamSocket real, std::string request);
    // HTTPSession closes its socket when it ends; the real socket lives on
    // (keep-alive) unless a handler detached this one (a follow stream),
    // whose close then closes the real socket.
    void keep_real_open() { forward_close_ = false; }

    // Past the request: end of input (the next request is the event
    // thread's to wait for). A handler that detached the socket to read
    // on (a WebSocket on the API) would need reads forwarded: none does,
    // follow streams only write.
    int receiveBytes(void* buffer, int length, int flags = 0) override;
    int available() override { return int(request_.size() - read_); }
    int sendBytes(const void* buffer, int length, int flags = 0) override;
    void close() override;
    void shutdownReceive() override { real_.shutdownReceive(); }
    void shutdownSend() override { real_.shutdownSend(); }
    void shutdown() override { real_.shutdown(); }
    void setBlocking(bool flag) override;
    bool getBlocking() const override { return real_.getBlocking(); }
    bool secure() const override { return real_.secure(); }
    void setSendTimeout(const Poco::Timespan& t) override { real_.setSendTimeout(t); }
    Poco::Timespan getSendTimeout() override { return real_.getSendTimeout(); }
    void setReceiveTimeout(const Poco::Timespan& t) override { real_.setReceiveTimeout(t); }
    Poco::Timespan getReceiveTimeout() override { return real_.getReceiveTimeout(); }
    Poco::Net::SocketAddress address() override { return real_.address(); }
    Poco::Net::SocketAddress peerAddress() override { return real_.peerAddress(); }

protected:
    ~BufferedSocketImpl() override;

private:
    Poco::Net::StreamSocket real_;
    std::string request_;
    size_t read_ = 0;
    bool forward_close_ = true;
};

}  // namespace exed::http
