#include "redis/url.hpp"

#include <Poco/NumberParser.h>
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <fmt/format.h>

namespace exed::redis {

std::string Url::describe() const {
    if (embedded) return "embedded";
    std::string where = unix_socket ? "unix://" + path : fmt::format("redis://{}:{}", host, port);
    return db ? fmt::format("{} db {}", where, db) : where;
}

Url Url::unix_socket_at(const std::string& path) {
    Url u;
    u.unix_socket = true;
    u.path = path;
    return u;
}

Url parse_url(const std::string& text) {
    Url u;
    if (text.empty() || text == "embedded") {
        u.embedded = true;
        return u;
    }
    Poco::URI uri;
    try {
        uri = Poco::URI(text);
    } catch (const Poco::Exception& e) {
        throw std::invalid_argument("bad redis_url '" + text + "': " + e.displayText());
    }
    std::string info = uri.getUserInfo();
    if (!info.empty()) {
        auto colon = info.find(':');
        u.password = colon == std::string::npos ? info : info.substr(colon + 1);
    }
    if (uri.getScheme() == "unix") {
        u.unix_socket = true;
        u.path = uri.getPath();
        if (u.path.empty()) throw std::invalid_argument("bad redis_url '" + text + "': no socket path");
        for (const auto& [k, v] : uri.getQueryParameters()) {
            if (k == "db") u.db = Poco::NumberParser::parse(v);
            if (k == "password") u.password = v;
        }
        return u;
    }
    if (uri.getScheme() != "redis")
        throw std::invalid_argument("bad redis_url '" + text +
                                    "': scheme must be redis:// or unix:// (or 'embedded')");
    if (uri.getHost().empty()) throw std::invalid_argument("bad redis_url '" + text + "': no host");
    u.host = uri.getHost();
    u.port = uri.getPort() ? uri.getPort() : 6379;
    std::string path = uri.getPath();
    if (path.size() > 1) {
        int db = 0;
        if (!Poco::NumberParser::tryParse(path.substr(1), db) || db < 0)
            throw std::invalid_argument("bad redis_url '" + text + "': db must be a number");
        u.db = db;
    }
    return u;
}

}  // namespace exed::redis
