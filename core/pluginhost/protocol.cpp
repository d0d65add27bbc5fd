#include "pluginhost/protocol.hpp"

#include "catalogue.hpp"

#include <Poco/JSON/Array.h>

#include <unistd.h>

namespace exed::pluginhost {

using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

Array array_of(const std::vector<std::string>& items) {
    Array out;
    for (const auto& i : items) out.add(i);
    return out;
}

}  // namespace

std::string text_of(const Object& message, const std::string& key) {
    if (!message.has(key)) return "";
    const auto& v = message.get(key);
    return v.isString() ? v.extract<std::string>() : std::string();
}

std::vector<std::string> texts_of(const Object& message, const std::string& key) {
    std::vector<std::string> out;
    auto arr = message.getArray(key);
    if (arr)
        for (size_t i = 0; i < arr->size(); ++i)
            if (const auto& v = arr->get(i); v.isString()) out.push_back(v.extract<std::string>());
    return out;
}

int64_t integer_of(const Object& message, const std::string& key, int64_t fallback) {
    if (!message.has(key)) return fallback;
    const auto& v = message.get(key);
    if (!v.isInteger() || v.isBoolean()) return fallback;
    try {
        return v.convert<Poco::Int64>();
    } catch (const Poco::Exception&) {  // a UInt64 past int64
        return fallback;
    }
}

Object hello_message(const plugins::Registry& registry) {
    Array plugins;
    for (const auto& info : registry.list()) {
        Object p;
        p.set("kind", info.kind);
        p.set("type", info.type);
        p.set("name", info.name);
        p.set("version", info.version);
        p.set("abi_major", info.abi_major);
        p.set("abi_minor", info.abi_minor);
        p.set("path", info.path);
        std::vector<std::string> ops;
        catalogue::Kind kind;
        auto plugin = registry.find(info.kind, info.type);
        if (plugin && catalogue::kind_of(info.kind, kind))
            for (const auto& op : catalogue::plugin_ops())
                if (op.kind == kind && plugin->has_op(op.name)) ops.push_back(op.name);
        p.set("ops", array_of(ops));
        p.set("secret_args", array_of(info.secret_args));
        plugins.add(p);
    }
    Array refusals;
    for (const auto& r : registry.refusals()) {
        Object o;
        o.set("path", r.path);
        o.set("reason", r.reason);
        refusals.add(o);
    }
    Object out;
    out.set("t", "hello");
    out.set("pid", int(getpid()));
    out.set("plugins", plugins);
    out.set("refusals", refusals);
    return out;
}

Listing listing_of(const Object& hello) {
    Listing out;
    if (auto plugins = hello.getArray("plugins")) {
        for (size_t i = 0; i < plugins->size(); ++i) {
            auto p = plugins->getObject(i);
            if (!p) continue;
            plugins::PluginInfo info{text_of(*p, "kind"), text_of(*p, "type"), text_of(*p, "name"),
                                     text_of(*p, "version"), uint32_t(integer_of(*p, "abi_major", 0)),
                                     uint32_t(integer_of(*p, "abi_minor", 0)), text_of(*p, "path"),
                                     texts_of(*p, "secret_args")};
            auto ops = texts_of(*p, "ops");
            out.ops[{info.kind, info.type}] = {ops.begin(), ops.end()};
            out.plugins.push_back(std::move(info));
        }
    }
    if (auto refusals = hello.getArray("refusals")) {
        for (size_t i = 0; i < refusals->size(); ++i)
            if (auto r = refusals->getObject(i)) out.refusals.push_back({text_of(*r, "path"), text_of(*r, "reason")});
    }
    return out;
}

Object prepare_message(const plugins::PrepareRequest& request) {
    Object out;
    out.set("t", "prepare");
    out.set("kind", request.plugin.kind);
    out.set("type", request.plugin.type);
    out.set("op", request.op);
    out.set("patterns", array_of(request.patterns));
    out.set("args", request.args_json);
    return out;
}

plugins::PrepareRequest prepare_request_of(const Object& message) {
    plugins::PrepareRequest out;
    out.plugin = {text_of(message, "kind"), text_of(message, "type")};
    out.op = text_of(message, "op");
    out.patterns = texts_of(message, "patterns");
    out.args_json = text_of(message, "args");
    return out;
}

Object prepared_message(const plugins::Prepared& prepared, std::vector<std::string>& strings) {
    Object out;
    out.set("t", "result");
    out.set("status", prepared.status);
    out.set("error", prepared.error);
    out.set("hosts", uint64_t(prepared.hosts.size()));
    out.set("unmatched", uint64_t(prepared.unmatched.size()));
    strings.reserve(1 + prepared.hosts.size() + prepared.unmatched.size());
    strings.push_back(prepared.document);
    strings.insert(strings.end(), prepared.hosts.begin(), prepared.hosts.end());
    strings.insert(strings.end(), prepared.unmatched.begin(), prepared.unmatched.end());
    return out;
}

plugins::Prepared prepared_of(const Object& message, std::vector<std::string> strings) {
    plugins::Prepared out;
    out.status = int(integer_of(message, "status", EXED_ERR));
    out.error = text_of(message, "error");
    int64_t hosts = integer_of(message, "hosts", -1), unmatched = integer_of(message, "unmatched", -1);
    // Each count checked on its own first: their sum could wrap around.
    if (strings.empty() || hosts < 0 || unmatched < 0 || uint64_t(hosts) > strings.size() - 1 ||
        uint64_t(unmatched) != strings.size() - 1 - uint64_t(hosts)) {
        if (out.status != EXED_OK && !out.error.empty()) return out;  // a refusal: nothing to count
        out.status = EXED_ERR;
        out.error = "the plugin host sent an unreadable answer";
        return out;
    }
    auto first_host = strings.begin() + 1, first_unmatched = first_host + std::ptrdiff_t(hosts);
    out.document = std::move(strings.front());
    out.hosts.assign(std::make_move_iterator(first_host), std::make_move_iterator(first_unmatched));
    out.unmatched.assign(std::make_move_iterator(first_unmatched), std::make_move_iterator(strings.end()));
    return out;
}

Object result_message(const plugins::OpResult& result) {
    Object out;
    out.set("t", "result");
    out.set("status", result.status);
    out.set("result", result.result);
    out.set("error", result.error);
    return out;
}

plugins::OpResult result_of(const Object& message) {
    plugins::OpResult out;
    out.status = int(integer_of(message, "status", EXED_ERR));
    out.result = text_of(message, "result");
    out.error = text_of(message, "error");
    return out;
}

}  // namespace exed::pluginhost
