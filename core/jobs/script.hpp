// A Lua script run by its SHA1 (EVALSHA). Workers run several scripts per
// job; sending the body (up to ~1 kB) on every call cost bytes and parsing
// for nothing. Redis keeps scripts in one server-wide cache that a restart
// or SCRIPT FLUSH empties: on NOSCRIPT the call is repeated once as EVAL,
// which also caches the body again. No per-connection state, so any pooled
// connection will do.
//
// Scripts that compare job statuses start with a prologue generated from
// the C++ constants (jobs/model.hpp), so no Lua spells a status:
//   local FINAL = {['done']=true, ...}   local QUEUED, RUNNING = '...', '...'
#pragma once

#include "jobs/model.hpp"
#include "redis/pool.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA1Engine.h>

#include <string>
#include <vector>

namespace exed::jobs {

class Script {
public:
    // "#!lua" (Redis 7 script flags, none given): in a Redis Cluster such a
    // script may not touch keys of two slots, even undeclared ones, which a
    // flagless script may on a one-node cluster; the cluster test pass
    // thereby catches every script that spans slots.
    explicit Script(std::string body) : body_("#!lua\n" + std::move(body)) {
        Poco::SHA1Engine sha1;
        sha1.update(body_);
        sha_ = Poco::DigestEngine::digestToHex(sha1.digest());  // lower-case, as Redis names it
    }

    // A script whose body starts with the status prologue.
    static Script with_statuses(const std::string& body) { return Script(status_prologue() + body); }

    static std::string status_prologue() {
        std::string final_set;
        for (auto& s : status::final_list) final_set += "['" + s + "']=true, ";
        return "local FINAL = {" + final_set + "}\nlocal QUEUED, RUNNING = '" + status::queued +
               "', '" + status::running + "'\n";
    }

    redis::Reply run(redis::Pool& pool, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args) const {
        try {
            return pool.run(evalsha(keys, args));
        } catch (const redis::ReplyError& e) {
            if (!forgotten(e.what())) throw;
        }
        return pool.run(eval(keys, args));
    }

    redis::Command evalsha(const std::vector<std::string>& keys, const std::vector<std::string>& args) const {
        return command("EVALSHA", sha_, keys, args);
    }
    redis::Command eval(const std::vector<std::string>& keys, const std::vector<std::string>& args) const {
        return command("EVAL", body_, keys, args);
    }
    static bool forgotten(const std::string& error) { return error.find("NOSCRIPT") != std::string::npos; }

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

// Commands and scripts sent in one pipeline (redis::Pool::pipeline): one
// round trip, run in order, each on its own slot, not atomic together, so
// every step must be safe to run again (the callers retry on Unavailable).
class Steps {
public:
    Steps& add(redis::Command c) {
        steps_.push_back({nullptr, {}, {}});
        cmds_.push_back(std::move(c));
        return *this;
    }
    Steps& add(const Script& s, std::vector<std::string> keys, std::vector<std::string> args) {
        cmds_.push_back(s.evalsha(keys, args));
        steps_.push_back({&s, std::move(keys), std::move(args)});
        return *this;
    }
    size_t size() const { return cmds_.size(); }

    // The replies, one per step. A script Redis forgot (NOSCRIPT: after a
    // restart or SCRIPT FLUSH) is run again by its body, after the others
    // (only then can a later step run before it). Any other error reply
    // throws ReplyError, after every step ran.
    std::vector<redis::Reply> run(redis::Pool& pool) const {
        auto replies = pool.pipeline(cmds_);
        std::string failed;
        for (size_t i = 0; i < replies.size(); ++i) {
            if (!replies[i].error()) continue;
            if (steps_[i].script && Script::forgotten(replies[i].str))
                replies[i] = pool.run(steps_[i].script->eval(steps_[i].keys, steps_[i].args));
            else if (failed.empty())
                failed = replies[i].str;
        }
        if (!failed.empty()) throw redis::ReplyError(failed);
        return replies;
    }

private:
    struct Step {
        const Script* script;
        std::vector<std::string> keys, args;
    };
    std::vector<Step> steps_;
    std::vector<redis::Command> cmds_;
};

}  // namespace exed::jobs
