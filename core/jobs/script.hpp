// A Lua script run by its SHA1 (EVALSHA). Workers run several scripts per
// job; sending the body (up to ~1 kB) on every call cost bytes and parsing
// for nothing. Redis keeps scripts in one server-wide cache that a restart
// or SCRIPT FLUSH empties: on NOSCRIPT the call is repeated once as EVAL,
// which also caches the body again. No per-connection state, so any pooled
// connection will do.
#pragma once

#include "redis/pool.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA1Engine.h>

#include <string>
#include <vector>

namespace exed::jobs {

class Script {
public:
    explicit Script(std::string body) : body_(std::move(body)) {
        Poco::SHA1Engine sha1;
        sha1.update(body_);
        sha_ = Poco::DigestEngine::digestToHex(sha1.digest());  // lower-case, as Redis names it
    }

    redis::Reply run(redis::Pool& pool, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args) const {
        try {
            return pool.run(command("EVALSHA", sha_, keys, args));
        } catch (const redis::ReplyError& e) {
            if (std::string(e.what()).find("NOSCRIPT") == std::string::npos) throw;
        }
        return pool.run(command("EVAL", body_, keys, args));
    }

    const std::string& sha() const { return sha_; }
    const std::string& body() const { return body_; }

private:
    static redis::Command command(const char* verb, const std::string& script,
                                  const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) {
        redis::Command c(verb);
        c << script << std::to_string(keys.size());
        for (auto& k : keys) c << k;
        for (auto& a : args) c << a;
        return c;
    }

    std::string body_;
    std::string sha_;
};

}  // namespace exed::jobs
