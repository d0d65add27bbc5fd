#include "salt_event_stream.hpp"

#include <exed/sdk.hpp>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>

#include <fmt/format.h>

#include <sys/socket.h>

namespace exed::salt {

bool parse_return_tag(const std::string& tag, std::string& jid, std::string& minion) {
    static const std::string prefix = "salt/job/";
    if (tag.compare(0, prefix.size(), prefix) != 0) return false;
    auto slash = tag.find('/', prefix.size());
    if (slash == std::string::npos || tag.compare(slash, 5, "/ret/") != 0) return false;
    jid = tag.substr(prefix.size(), slash - prefix.size());
    minion = tag.substr(slash + 5);
    return !jid.empty() && !minion.empty();
}

EventStream::EventStream(SaltApiClient& api) {
    const auto& cfg = api.config();
    for (int attempt = 0; attempt < 2; ++attempt) {
        SaltToken t = api.token();
        // The token goes in the X-Auth-Token header, which salt-api 3006
        // accepts on /events too: as ?token= it would land in access logs.
        int status = 0;
        try {
            session_ = api.open_session(Poco::Timespan(cfg.effective_request_timeout(), 0));
            Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, api.path("/events"),
                                       Poco::Net::HTTPRequest::HTTP_1_1);
            req.set("Accept", "text/event-stream");
            req.set("X-Auth-Token", t.value);
            session_->sendRequest(req);
            Poco::Net::HTTPResponse resp;
            body_ = &session_->receiveResponse(resp);
            status = resp.getStatus();
        } catch (const Poco::Exception& e) {
            throw ApiUnreachable(fmt::format("cannot open {}/events: {}", cfg.api_url,
                                             e.displayText()));
        }
        if (status == 401 && attempt == 0) {
            api.forget_token(t.value);
            continue;
        }
        if (status != 200)
            throw Error(fmt::format("{}/events answered HTTP {}", cfg.api_url, status));
        // From now on the reader blocks on a quiet master; close() wakes it.
        // The long timeout only ends a stream whose peer vanished silently.
        session_->socket().setReceiveTimeout(Poco::Timespan(600, 0));
        reader_ = std::thread([this] { read_loop(); });
        return;
    }
    throw Error(cfg.api_url + "/events refused a fresh token (HTTP 401)");
}

EventStream::~EventStream() {
    closing_ = true;
    if (session_) {
        // A plain shutdown(2), not the socket's own: for TLS that would write
        // a close_notify concurrently with the reader's SSL_read.
        ::shutdown(session_->socket().impl()->sockfd(), SHUT_RDWR);
    }
    if (reader_.joinable()) reader_.join();
}

void EventStream::read_loop() {
    std::string line, data;
    try {
        while (!closing_ && std::getline(*body_, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty()) {  // a blank line ends one event
                if (!data.empty()) dispatch(data);
                data.clear();
            } else if (line.compare(0, 5, "data:") == 0) {
                std::string part = line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
                data += data.empty() ? part : "\n" + part;
            }  // "tag:", "retry:", ":" comments: the tag is repeated inside data
        }
    } catch (const std::exception&) {
        // a timeout or a reset: the stream is over either way
    }
    alive_ = false;
    arrived_.notify_all();
}

void EventStream::dispatch(const std::string& data) {
    try {
        auto ev = as_object(parse_json(data));
        if (!ev) return;
        JobReturnEvent r;
        if (!parse_return_tag(ev->optValue<std::string>("tag", ""), r.jid, r.minion)) return;
        r.data = ev->get("data");
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(std::move(r));
    } catch (const std::exception&) {
        return;  // not JSON: not an event of ours
    }
    arrived_.notify_all();
}

std::vector<JobReturnEvent> EventStream::take(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    arrived_.wait_for(lock, wait, [this] { return !queue_.empty() || !alive_; });
    std::vector<JobReturnEvent> out(std::make_move_iterator(queue_.begin()),
                                    std::make_move_iterator(queue_.end()));
    queue_.clear();
    return out;
}

}  // namespace exed::salt
