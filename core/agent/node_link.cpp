#include "agent/node_link.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/URI.h>

#include <sstream>

namespace exed::agent {

bool NodeLink::connect(std::string& why) {
    try {
        const auto port = Poco::UInt16(config_.server_port);
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (tls_) session = std::make_unique<Poco::Net::HTTPSClientSession>(config_.server_host, port, tls_);
        else session = std::make_unique<Poco::Net::HTTPClientSession>(config_.server_host, port);
        session->setTimeout(Poco::Timespan(5, 0));
        std::string node_q;
        Poco::URI::encode(node_, "&=+?#/", node_q);
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/agent/connect?node=" + node_q,
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Authorization", "Bearer " + config_.token);
        Poco::Net::HTTPResponse response;
        auto ws = std::make_unique<Poco::Net::WebSocket>(*session, request, response);
        // Bounds a read that finds half a frame; a whole frame never waits.
        ws->setReceiveTimeout(Poco::Timespan(5, 0));
        ws->setSendTimeout(Poco::Timespan(5, 0));
        ws->setNoDelay(true);
        std::lock_guard<std::mutex> lock(mutex_);
        ws_ = std::move(ws);
        broken_ = false;
        // exed sends nothing before this: bytes it sent with the 101 could be
        // swallowed by the HTTP session's read-ahead.
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
    broken_ = false;
}

int NodeLink::receive_frame(Poco::Buffer<char>& frame, int& flags) {
    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    if (tls_) lock.lock();
    return ws_->receiveFrame(frame, flags);
}

bool NodeLink::more_buffered() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return tls_ && ws_ && ws_->available() > 0;
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
