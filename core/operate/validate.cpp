#include "operate/validate.hpp"

#include "catalogue.hpp"
#include "errors.hpp"
#include "operate/command_line.hpp"
#include "operate/numbers.hpp"

#include <Poco/JSON/Array.h>

#include <limits>
#include <map>

namespace exed::operate {

namespace {

[[noreturn]] void bad(const std::string& msg) { throw DomainError(Errc::invalid, msg); }

using catalogue::Arg;
using Type = catalogue::ArgType;

const std::vector<Arg>& fields_of(const std::string& op) {
    const auto* o = catalogue::find(op);
    if (!o) bad("unknown operation '" + op + "'");
    return o->args;
}

const char* type_name(Type t) {
    switch (t) {
        case Type::String: return "a string";
        case Type::Int: return "an integer";
        case Type::Bool: return "a boolean";
        case Type::Object: return "an object";
        case Type::StringOrNull: return "a string or null";
    }
    return "?";
}

// Longest target (host name or pattern) accepted; docs/api.md.
constexpr size_t kMaxTargetBytes = 4096;

// A JSON integer within [lo, hi] (operate/numbers.hpp: Poco keeps big
// numbers as UInt64 and throws converting them: that was a 500).
bool int_within(const Poco::Dynamic::Var& v, Poco::Int64 lo, Poco::Int64 hi) {
    int64_t n = 0;
    return json_integer(v, lo, hi, n);
}

bool type_ok(const Poco::Dynamic::Var& v, Type t) {
    switch (t) {
        case Type::String: return v.isString();
        case Type::Int: return v.isInteger() && !v.isBoolean();
        case Type::Bool: return v.isBoolean();
        case Type::Object: return v.type() == typeid(Poco::JSON::Object::Ptr);
        case Type::StringOrNull: return v.isEmpty() || v.isString();
    }
    return false;
}

// Checks that depend on the value, after the types are right: ranges
// first, then emptiness (the order the messages always came in).
void check_values(const std::string& op, const Poco::JSON::Object::Ptr& args) {
    const auto& fields = fields_of(op);
    for (const auto& f : fields) {
        if (f.type != Type::Int || f.max < f.min || !args->has(f.name)) continue;
        if (!int_within(args->get(f.name), f.min, f.max)) bad(f.range_message);
    }
    for (const auto& f : fields) {
        if (f.non_empty && args->has(f.name) && args->getValue<std::string>(f.name).empty())
            bad(std::string(f.name) + " must not be empty");
    }
    // The one argv rule: execute's cmd is split here, once, for every executor.
    if (op == EXED_OP_EXECUTE) add_execute_argv(args);
}

}  // namespace

bool parse_flag(const std::string& name, const std::string& v) {
    if (v == "1" || v == "true" || v == "True") return true;
    if (v == "0" || v == "false" || v == "False" || v.empty()) return false;
    bad(name + " must be 1/true/True or 0/false/False");
}

Poco::JSON::Object::Ptr args_from_body(const std::string& op, const Poco::JSON::Object::Ptr& body,
                                       std::vector<std::string>& targets, int& run_timeout) {
    const auto& fields = fields_of(op);
    Poco::JSON::Object::Ptr args = new Poco::JSON::Object;
    // Reject unknown fields: a typo ("target" for "targets") must not be ignored.
    for (const auto& [key, value] : *body) {
        if (key == "targets" || key == "run_timeout") continue;
        bool known = false;
        for (const auto& f : fields) known = known || key == f.name;
        if (!known) bad("unknown field '" + key + "' for " + op);
    }
    if (!body->has("targets")) bad("targets is required");
    auto arr = body->getArray("targets");
    if (!arr) bad("targets must be an array of host names or patterns");
    if (arr->size() == 0) bad("targets must not be empty");
    targets.clear();
    for (size_t i = 0; i < arr->size(); ++i) {
        auto v = arr->get(i);
        if (!v.isString() || v.toString().empty()) bad("targets must be non-empty strings");
        if (v.extract<std::string>().size() > kMaxTargetBytes)
            bad("a target is longer than " + std::to_string(kMaxTargetBytes) + " bytes");
        targets.push_back(v.toString());
    }
    run_timeout = 0;
    if (body->has("run_timeout")) {
        auto v = body->get("run_timeout");
        if (!int_within(v, 1, std::numeric_limits<int>::max()))
            bad("run_timeout must be a positive integer (seconds) below 2^31");
        run_timeout = v.convert<int>();
    }
    for (const auto& f : fields) {
        if (!body->has(f.name) || (body->isNull(f.name) && f.type != Type::StringOrNull)) {
            if (f.required) bad(std::string(f.name) + " is required");
            continue;
        }
        auto v = body->get(f.name);
        if (!type_ok(v, f.type)) bad(std::string(f.name) + " must be " + type_name(f.type));
        args->set(f.name, v);
    }
    check_values(op, args);
    return args;
}

Poco::JSON::Object::Ptr args_from_query(const std::string& op, const Query& query,
                                        std::vector<std::string>& targets) {
    const auto& fields = fields_of(op);
    for (const auto& [key, value] : query) {
        bool known = key == "target";
        for (const auto& f : fields) known = known || key == f.name;
        if (!known) bad("unknown parameter '" + key + "' for " + op);
    }
    auto target = query.find("target");
    if (target == query.end() || target->second.empty()) bad("target is required");
    if (target->second.size() > kMaxTargetBytes)
        bad("target is longer than " + std::to_string(kMaxTargetBytes) + " bytes");
    targets = {target->second};
    Poco::JSON::Object::Ptr args = new Poco::JSON::Object;
    for (const auto& f : fields) {
        auto found = query.find(f.name);
        if (found == query.end()) {
            if (f.required) bad(std::string(f.name) + " is required");
            continue;
        }
        const std::string& v = found->second;
        switch (f.type) {
            case Type::Int: {
                int64_t n = 0;
                if (!text_integer(v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max(), n))
                    bad(std::string(f.name) + " must be an integer");
                args->set(f.name, int(n));
                break;
            }
            case Type::Bool: args->set(f.name, parse_flag(f.name, v)); break;
            case Type::Object: bad(std::string(f.name) + " is only accepted in a JSON body (POST)");
            default: args->set(f.name, v);
        }
    }
    check_values(op, args);
    return args;
}

}  // namespace exed::operate
