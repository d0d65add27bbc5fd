// redis_url: redis://[:password@]host:port[/db], unix:///path[?db=N], or
// "embedded"/empty for exed's own redis-server child.
#pragma once

#include <stdexcept>
#include <string>

namespace exed::redis {

struct Url {
    bool embedded = false;
    bool unix_socket = false;
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string path;  // unix socket path
    std::string password;
    int db = 0;

    std::string describe() const;  // for logs: never prints the password
    static Url unix_socket_at(const std::string& path);
};

// Throws std::invalid_argument with a clear message on a bad URL.
Url parse_url(const std::string& url);

}  // namespace exed::redis
