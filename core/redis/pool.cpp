#include "redis/pool.hpp"

#include <Poco/Logger.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Redis/Error.h>
#include <Poco/Redis/Exception.h>

#include <atomic>
#include <chrono>

namespace exed::redis {

using Poco::Redis::BulkString;
using Poco::Redis::Client;

namespace {
const Poco::Timespan connect_timeout(2, 0);
const Poco::Timespan default_timeout(10, 0);
}  // namespace

Client::Ptr ClientFactory::createObject() {
    Client::Ptr c = new Client;
    try {
        if (url_.unix_socket)
            c->connect(Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, url_.path),
                       connect_timeout);
        else
            c->connect(url_.host, url_.port, connect_timeout);
        c->setReceiveTimeout(default_timeout);
        if (!url_.password.empty()) {
            Command auth("AUTH");
            auth << url_.password;
            c->execute<std::string>(auth);
        }
        if (url_.db) {
            Command sel("SELECT");
            sel << std::to_string(url_.db);
            c->execute<std::string>(sel);
        }
    } catch (const Poco::Redis::RedisException& e) {
        throw Unavailable("redis at " + url_.describe() + " refused the connection: " + e.message());
    } catch (const Poco::Exception& e) {
        throw Unavailable("redis at " + url_.describe() + " is unreachable: " + e.displayText());
    }
    return c;
}

void ClientFactory::destroyObject(Client::Ptr c) {
    try {
        c->disconnect();
    } catch (...) {
    }
}

// Error replies that mean "Redis cannot serve writes right now", not a bug:
// a full or failing disk under its AOF/RDB (MISCONF), or an AOF still
// loading after a restart (LOADING). Both are outages: 503 at once, and
// workers retry (they used to be 500s with Redis's raw text, issue 14).
// The client gets our words only; Redis's own text (which names its config
// and internals) goes to the log, at most once every 10 s while it lasts.
static void log_raw_reply(const std::string& reply) {
    static std::atomic<long> last{0};
    long now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::steady_clock::now().time_since_epoch()).count();
    long before = last.load();
    if (now - before < 10 && before != 0) return;
    if (!last.compare_exchange_strong(before, now)) return;
    Poco::Logger::get("exed.redis").warning("redis refuses writes: " + reply.substr(0, 400));
}

static void throw_if_unavailable(const std::string& reply, const std::string& disk) {
    if (reply.find("MISCONF") != std::string::npos) {
        log_raw_reply(reply);
        std::string where = disk.empty() ? "its disk" : "the disk of " + disk;
        throw Unavailable("redis cannot write its data to " + where +
                          " (full or failing?); writes resume once it can");
    }
    if (reply.find("LOADING") != std::string::npos)
        throw Unavailable("redis is loading its data after a restart");
}

Pool::Pool(Url url, size_t capacity)
    : url_(url), pool_(ClientFactory(url), capacity, capacity) {}

Reply Pool::run_on(Client& c, const Command& cmd) {
    RedisType::Ptr r;
    try {
        r = c.sendCommand(cmd);
    } catch (const Poco::Redis::RedisException& e) {
        // Poco reports a closed connection as a RedisException too.
        if (c.isConnected()) {
            throw_if_unavailable(e.message(), disk_);
            throw ReplyError(e.message());
        }
        throw Unavailable("redis at " + url_.describe() + ": " + e.message());
    } catch (const Poco::Exception& e) {
        fail(c, e.displayText());
    }
    try {
        return to_reply(r);
    } catch (const ReplyError& e) {
        throw_if_unavailable(e.what(), disk_);
        throw;
    }
}

void Pool::fail(Client& c, const std::string& what) {
    // The connection is in an unknown state: drop it.
    try {
        c.disconnect();
    } catch (...) {
    }
    throw Unavailable("redis at " + url_.describe() + ": " + what);
}

std::vector<Reply> Pool::pipeline_on(Client& c, const std::vector<Command>& cmds) {
    Array replies;
    try {
        replies = c.sendCommands(std::vector<Array>(cmds.begin(), cmds.end()));
    } catch (const Poco::Exception& e) {
        // Some replies may be unread: the connection cannot be reused.
        fail(c, e.displayText());
    }
    std::vector<Reply> out;
    for (const auto& r : replies) {
        try {
            out.push_back(to_reply(r));
        } catch (const ReplyError& e) {
            throw_if_unavailable(e.what(), disk_);
            Reply err;
            err.kind = Reply::Err;
            err.str = e.what();
            out.push_back(std::move(err));
        }
    }
    if (out.size() != cmds.size()) fail(c, "a pipeline got " + std::to_string(out.size()) + " replies");
    return out;
}

Pool::Lease Pool::lease() {
    Client::Ptr c;
    try {
        c = pool_.borrowObject(5000);
    } catch (const Unavailable&) {
        throw;
    } catch (const Poco::Exception& e) {
        throw Unavailable("redis at " + url_.describe() + ": " + e.displayText());
    }
    if (!c) throw Unavailable("no redis connection free within 5 s");
    return Lease(*this, c);
}

Pool::Lease::~Lease() {
    if (pool_ && c_) pool_->pool_.returnObject(c_);  // validateObject drops dead ones
}

Reply Pool::Lease::run(const Command& cmd, Poco::Timespan timeout) {
    c_->setReceiveTimeout(timeout);
    auto r = pool_->run_on(*c_, cmd);
    c_->setReceiveTimeout(default_timeout);
    return r;
}

Reply Pool::Lease::run(const Command& cmd) { return pool_->run_on(*c_, cmd); }

std::vector<Reply> Pool::Lease::pipeline(const std::vector<Command>& cmds) {
    return pool_->pipeline_on(*c_, cmds);
}

std::vector<Reply> Pool::pipeline(const std::vector<Command>& cmds) {
    if (cmds.empty()) return {};
    // As run(): a connection that died while idle fails before any command
    // ran, so the one retry on a fresh connection repeats nothing... except
    // when it died mid-way; callers' steps are idempotent for that reason.
    try {
        return lease().pipeline(cmds);
    } catch (const Unavailable&) {
        return lease().pipeline(cmds);
    }
}

Reply Pool::run(const Command& cmd) {
    // A pooled connection may have died while idle (Redis restarted): the
    // first failure drops it, one retry gets a fresh one or a clear 503.
    try {
        return lease().run(cmd);
    } catch (const Unavailable&) {
        return lease().run(cmd);
    }
}

bool Pool::ping() {
    try {
        return run(Command("PING")).text() == "PONG";
    } catch (const std::exception&) {
        return false;
    }
}

Reply to_reply(const RedisType::Ptr& r) {
    Reply out;
    if (!r) return out;
    switch (r->type()) {
        case RedisType::REDIS_INTEGER:
            out.kind = Reply::Int;
            out.integer = static_cast<const Poco::Redis::Type<Poco::Int64>*>(r.get())->value();
            break;
        case RedisType::REDIS_SIMPLE_STRING:
            out.kind = Reply::Str;
            out.str = static_cast<const Poco::Redis::Type<std::string>*>(r.get())->value();
            break;
        case RedisType::REDIS_BULK_STRING: {
            const BulkString& b = static_cast<const Poco::Redis::Type<BulkString>*>(r.get())->value();
            if (!b.isNull()) {
                out.kind = Reply::Str;
                out.str = b.value();
            }
            break;
        }
        case RedisType::REDIS_ARRAY: {
            const Array& a = static_cast<const Poco::Redis::Type<Array>*>(r.get())->value();
            if (!a.isNull()) {
                out.kind = Reply::Arr;
                for (const auto& e : a) out.items.push_back(to_reply(e));
            }
            break;
        }
        default:
            throw ReplyError(r->toString());
    }
    return out;
}

}  // namespace exed::redis
