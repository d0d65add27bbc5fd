// Pooled Poco::Redis connections to one server (TCP or unix socket), with
// AUTH/SELECT on connect and "Redis is down" as one exception type (-> 503).
#pragma once

#include "errors.hpp"

#include "redis/url.hpp"

#include <Poco/ObjectPool.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>
#include <Poco/Redis/Command.h>
#include <Poco/Redis/Type.h>
#include <Poco/Timespan.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace exed::redis {

using Poco::Redis::Array;
using Poco::Redis::Command;
using Poco::Redis::RedisType;

// A reply as plain data: nil, integer, string or array of replies; Err
// (the error text in `str`) only in what pipeline() returns, since one
// step's error must not hide the replies of the others.
struct Reply {
    enum Kind { Nil, Int, Str, Arr, Err } kind = Nil;
    Poco::Int64 integer = 0;
    std::string str;
    std::vector<Reply> items;

    bool nil() const { return kind == Nil; }
    bool error() const { return kind == Err; }
    // Strings for Str and Int; "" for Nil.
    std::string text() const { return kind == Int ? std::to_string(integer) : str; }
    Poco::Int64 num() const { return kind == Int ? integer : (str.empty() ? 0 : std::stoll(str)); }
};

// Redis cannot be reached (refused, reset, timed out): the job store is
// unavailable (a face answers "retry later"); workers back off and retry.
struct Unavailable : DomainError {
    explicit Unavailable(const std::string& what)
        : DomainError(Errc::unavailable, "job store unavailable: " + what) {}
};

// Redis answered with an error reply (a bug or bad data, not an outage).
struct ReplyError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class ClientFactory {
public:
    explicit ClientFactory(Url url) : url_(std::move(url)) {}
    Poco::Redis::Client::Ptr createObject();
    bool validateObject(Poco::Redis::Client::Ptr c) { return c->isConnected(); }
    void activateObject(Poco::Redis::Client::Ptr) {}
    void deactivateObject(Poco::Redis::Client::Ptr) {}
    void destroyObject(Poco::Redis::Client::Ptr c);

private:
    Url url_;
};

class Pool {
public:
    Pool(Url url, size_t capacity);

    // Where the server keeps its data (the embedded server's run dir), named
    // in the 503 when Redis cannot write there.
    void set_data_dir(std::string dir) { disk_ = std::move(dir); }

    // One command on a pooled connection. Returns the reply.
    Reply run(const Command& cmd);

    // A connection held for a while (blocking reads, pipelines). Returned
    // to the pool on destruction unless a failure marked it broken.
    class Lease {
    public:
        Lease(Pool& pool, Poco::Redis::Client::Ptr c) : pool_(&pool), c_(std::move(c)) {}
        Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) { o.pool_ = nullptr; }
        Lease(const Lease&) = delete;
        ~Lease();
        // Runs cmd, waiting up to `timeout` for the reply (for BLOCK reads).
        Reply run(const Command& cmd, Poco::Timespan timeout);
        Reply run(const Command& cmd);
        // See Pool::pipeline.
        std::vector<Reply> pipeline(const std::vector<Command>& cmds);

    private:
        Pool* pool_;
        Poco::Redis::Client::Ptr c_;
    };
    Lease lease();

    // Several commands on one connection: all written, then all replies
    // read (one round trip). Redis runs one connection's commands in
    // order, so step n sees what steps before it wrote; there is no
    // atomicity across them. An error reply of a step is that step's
    // Reply (kind Err; MISCONF/LOADING still throw Unavailable).
    std::vector<Reply> pipeline(const std::vector<Command>& cmds);

    bool ping();  // true when the server answers
    const Url& url() const { return url_; }

private:
    friend class Lease;
    Reply run_on(Poco::Redis::Client& c, const Command& cmd);
    std::vector<Reply> pipeline_on(Poco::Redis::Client& c, const std::vector<Command>& cmds);
    // Drops a connection in an unknown state and names the outage.
    [[noreturn]] void fail(Poco::Redis::Client& c, const std::string& what);

    Url url_;
    std::string disk_;
    Poco::ObjectPool<Poco::Redis::Client, Poco::Redis::Client::Ptr, ClientFactory> pool_;
};

// Converts a Poco reply tree (throws ReplyError for an error reply).
Reply to_reply(const RedisType::Ptr& r);

}  // namespace exed::redis
