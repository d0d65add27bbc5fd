#include "agent/node_link.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/URI.h>

#include <sstream>

namespace exed::agent {

bool NodeLink::connect(std::string& why) {
    try {
        const Poco::Timespan bound(5, 0);
        Poco::Net::StreamSocket real;
        if (tls_) {
            Poco::Net::SecureStreamSocket secure(tls_);
            // The certificate must name the server (VERIFY_STRICT), as
            // HTTPSClientSession would check it.
            secure.setPeerHostName(config_.server_host);
            real = secure;
        }
        // TLS: the handshake happens here too, within the same bound.
        real.connect(Poco::Net::SocketAddress(config_.server_host, Poco::UInt16(config_.server_port)), bound);
        real.setReceiveTimeout(bound);
        real.setSendTimeout(bound);
        real.setNoDelay(true);
        // The upgrade reads through to the socket (bounded by its receive
        // timeout); the WebSocket then sits on the gate.
        auto* gate = new GatedSocketImpl(real);
        Poco::Net::StreamSocket gated(gate);
        gate->pass_through(true);
        Poco::Net::HTTPClientSession session(gated);
        std::string node_q;
        Poco::URI::encode(node_, "&=+?#/", node_q);
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/agent/connect?node=" + node_q,
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.setHost(config_.server_host, Poco::UInt16(config_.server_port));
        request.set("Authorization", "Bearer " + config_.token);
        Poco::Net::HTTPResponse response;
        auto ws = std::make_unique<Poco::Net::WebSocket>(session, request, response);
        gate->pass_through(false);
        // exed sends nothing before the hello: bytes read with the 101 would
        // sit where the gate cannot see them.
        if (ws->available() > 0) throw Poco::ProtocolException("exed sent data before the agent's hello");
        ws->setMaxPayloadSize(int(config_.max_frame));
        if (tls_) {
            // Reads must never wait (GatedSocketImpl::pull); sends still may,
            // up to the send timeout (Poco's TLS layer polls for them).
            real.setBlocking(false);
            real.setReceiveTimeout(Poco::Timespan(0));
        }
        std::lock_guard<std::mutex> lock(mutex_);
        ws_ = std::move(ws);
        gated_ = gated;
        gate_ = gate;
        partial_ = false;
        broken_ = false;
        // The hello proves this node holds its key: it signs the challenge
        // exed put in its 101 answer (fresh per connection).
        Poco::JSON::Object hello;
        hello.set("type", std::string("hello"));
        hello.set("node", node_);
        hello.set("public_key", key_.public_pem());
        hello.set("signature", key_.sign_hello(response.get("X-Exed-Challenge", "")));
        std::ostringstream text;
        hello.stringify(text);
        send_locked(text.str());
        flush_locked();  // a failure marks it broken: the loop reconnects
        return true;
    } catch (const Poco::Exception& e) {
        why = e.displayText();
    } catch (const std::exception& e) {
        why = e.what();
    }
    return false;
}

void NodeLink::disconnect() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (ws_) {
        try {
            ws_->close();
        } catch (const Poco::Exception&) {
        }
    }
    ws_.reset();
    gated_ = Poco::Net::StreamSocket();
    gate_ = nullptr;
    partial_ = false;
    broken_ = false;
}

bool NodeLink::receive(const std::function<void(const std::string&)>& on_text, std::string& why) {
    // A WebSocket frame header is at most 14 bytes (RFC 6455 5.2); room for
    // one whole frame of max_frame bytes, so a full gate holds one to parse.
    const size_t cap = config_.max_frame + 14 + 65536;
    for (int round = 0; round < 4; ++round) {
        GatedSocketImpl::Pulled pulled;
        {
            // Over TLS: one OpenSSL connection must not read and write on
            // two threads at once (run threads send under mutex_).
            std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
            if (tls_) lock.lock();
            pulled = gate_->pull(cap);
        }
        const bool full = gate_->unread().size() >= cap;
        size_t frames = 0;
        for (;;) {
            uint64_t payload = 0;
            auto unread = gate_->unread();
            uint64_t whole = whole_frame_bytes(unread, payload);
            if (whole != 0 && payload > config_.max_frame) {
                why = "exed sent a frame of " + std::to_string(payload) + " bytes, more than max_frame";
                return false;
            }
            if (whole == 0 || unread.size() < whole) break;
            Poco::Buffer<char> frame(0);
            int flags = 0;
            int n = ws_->receiveFrame(frame, flags);  // all of it is in the gate: no wait
            ++frames;
            int opcode = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
            if ((n == 0 && flags == 0) || opcode == Poco::Net::WebSocket::FRAME_OP_CLOSE) {
                why = "exed closed the connection";
                return false;
            }
            if (opcode == Poco::Net::WebSocket::FRAME_OP_TEXT) on_text(std::string(frame.begin(), frame.size()));
        }
        if (frames > 0 || gate_->unread().empty()) partial_ = false;
        if (!partial_ && !gate_->unread().empty()) {
            partial_ = true;
            partial_since_ = Clock::now();
        }
        if (pulled == GatedSocketImpl::Pulled::eof) {
            why = "connection closed";
            return false;
        }
        // Stopped at its cap: OpenSSL (or the kernel) may hold more, and
        // the descriptor may not say so again.
        if (!full) break;
    }
    return true;
}

bool NodeLink::stalled() const {
    return partial_ && Clock::now() - partial_since_ > std::chrono::duration<double>(config_.frame_timeout_s);
}

bool NodeLink::connected() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ws_ != nullptr && !broken_;
}

bool NodeLink::broken() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return broken_;
}

bool NodeLink::send_locked(const std::string& json) {
    if (!ws_ || broken_) return false;
    try {
        ws_->sendFrame(json.data(), int(json.size()), Poco::Net::WebSocket::FRAME_TEXT);
        return true;
    } catch (const Poco::Exception&) {
        broken_ = true;
        return false;
    }
}

void NodeLink::buffer_locked(Pending p) {
    buffered_bytes_ += p.json.size();
    buffer_.push_back(std::move(p));
    // Oldest output goes first; acks and ends are small and never dropped.
    for (auto it = buffer_.begin(); buffered_bytes_ > config_.buffer_bytes && it != buffer_.end();) {
        if (!it->droppable) {
            ++it;
            continue;
        }
        buffered_bytes_ -= it->json.size();
        dropped_[it->run_id] += it->json.size();
        it = buffer_.erase(it);
    }
}

bool NodeLink::flush_locked() {
    for (auto& [run_id, bytes] : dropped_) {
        Poco::JSON::Object marker;
        marker.set("type", std::string("output"));
        marker.set("run_id", run_id);
        marker.set("stream", std::string("marker"));
        marker.set("data", "[exed agent: about " + std::to_string(bytes) +
                               " bytes of output dropped while disconnected]\n");
        std::ostringstream s;
        marker.stringify(s);
        if (!send_locked(s.str())) return false;
    }
    dropped_.clear();
    while (!buffer_.empty()) {
        if (!send_locked(buffer_.front().json)) return false;
        buffered_bytes_ -= buffer_.front().json.size();
        buffer_.pop_front();
    }
    return true;
}

void NodeLink::send_run_message(const std::string& run_id, const std::string& json, bool droppable) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Keep the order: nothing overtakes what is still buffered.
    if (buffer_.empty() && dropped_.empty() && send_locked(json)) return;
    buffer_locked({run_id, json, droppable});
}

void NodeLink::send_now(const std::string& json) {
    std::lock_guard<std::mutex> lock(mutex_);
    send_locked(json);
}

}  // namespace exed::agent
