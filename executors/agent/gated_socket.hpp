// The socket Poco's HTTP and WebSocket code read an agent connection
// through, on both ends of it: exed's agent listener (executors/agent) and
// the node's agent (core/agent/node_link.cpp) link this one library,
// exed_agent_wire. Only the owner's event thread moves bytes from the
// network into it, and only without waiting (pull()); Poco's reads are
// then served from that buffer and never touch the network. So Poco
// parses an upgrade request only once all of it is here, and a frame only
// once all of it is here: a peer that sends half a request or half a frame
// holds no thread (docs/agent.md, Limits). During the agent's own upgrade
// (pass_through) reads go to the real socket, bounded by its receive
// timeout, as an HTTP client's. Writes go straight to the real socket
// (plain or TLS), which stays the owner of the descriptor.
#pragma once

#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace exed::agent_wire {

class GatedSocketImpl : public Poco::Net::StreamSocketImpl {
public:
    explicit GatedSocketImpl(Poco::Net::StreamSocket real);

    enum class Pulled { some, none, eof };
    // Moves what the peer already sent (over TLS: decrypted) into the
    // buffer until `cap` bytes wait unread; never waits. `eof` once the
    // peer closed or the connection failed. Over TLS the caller must keep
    // other threads from using the connection meanwhile.
    Pulled pull(size_t cap);
    std::string_view unread() const { return std::string_view(in_).substr(pos_); }
    // Poco may read at most `n` more bytes (the upgrade request: what
    // follows it stays here for the frame reader).
    void serve_at_most(size_t n) { serve_left_ = n; }
    void serve_all() { serve_left_ = SIZE_MAX; }
    // true: Poco's reads go to the real socket (the agent's client handshake).
    void pass_through(bool on) { pass_through_ = on; }
    Poco::Net::StreamSocket& real() { return real_; }

    // From the buffer only (unless pass_through); 0 (end of input) when it
    // holds nothing more.
    int receiveBytes(void* buffer, int length, int flags = 0) override;
    int available() override;
    int sendBytes(const void* buffer, int length, int flags = 0) override { return real_.sendBytes(buffer, length, flags); }
    void close() override;
    void shutdownReceive() override { real_.shutdownReceive(); }
    void shutdownSend() override { real_.shutdownSend(); }
    void shutdown() override { real_.shutdown(); }
    bool secure() const override { return real_.secure(); }
    Poco::Net::SocketAddress address() override { return real_.address(); }
    Poco::Net::SocketAddress peerAddress() override { return real_.peerAddress(); }
    // Poco's HTTP session sets its own (60 s) timeouts and blocking mode:
    // kept here, never passed on — the real socket's are its owner's.
    void setBlocking(bool flag) override { blocking_ = flag; }
    bool getBlocking() const override { return blocking_; }
    void setSendTimeout(const Poco::Timespan& t) override { send_timeout_ = t; }
    Poco::Timespan getSendTimeout() override { return send_timeout_; }
    void setReceiveTimeout(const Poco::Timespan& t) override { receive_timeout_ = t; }
    Poco::Timespan getReceiveTimeout() override { return receive_timeout_; }

protected:
    ~GatedSocketImpl() override;

private:
    Poco::Net::StreamSocket real_;
    std::string in_;
    size_t pos_ = 0;
    size_t serve_left_ = SIZE_MAX;
    bool pass_through_ = false;
    bool blocking_ = true;
    Poco::Timespan send_timeout_, receive_timeout_;
};

// The bytes of the WebSocket frame at the start of `bytes` (header, mask
// and payload), from its header's length field; 0 while that header is
// incomplete. `payload` gets the announced payload length. Poco parses the
// frame itself; this only says whether all of it is here.
uint64_t whole_frame_bytes(std::string_view bytes, uint64_t& payload);

}  // namespace exed::agent_wire
