#include "runner/host_results.hpp"

#include "json.hpp"

#include <exed/sdk.h>

#include <Poco/JSON/Object.h>

namespace exed::runner {

namespace {

bool failed(const Poco::JSON::Object& body) {
    try {
        // facter's results say "state" where the others say "status".
        int st = body.has(EXED_KEY_STATUS) ? body.getValue<int>(EXED_KEY_STATUS)
                                           : body.optValue<int>(EXED_KEY_STATE, EXED_HOST_OK);
        return st == EXED_HOST_FAILED || st == EXED_HOST_UNREACHABLE;
    } catch (const Poco::Exception&) {
        return false;
    }
}

void add(HostResults& out, const std::string& host, const Poco::Dynamic::Var& body) {
    out.json[host] = json_string(body);
    if (body.type() == typeid(Poco::JSON::Object::Ptr) &&
        failed(*body.extract<Poco::JSON::Object::Ptr>()))
        out.failed.push_back(host);
}

}  // namespace

HostResults results_of(const std::string& result_json) {
    HostResults out;
    if (result_json.empty()) return out;
    try {
        auto o = parse_json(result_json).extract<Poco::JSON::Object::Ptr>();
        for (const auto& [host, body] : *o) add(out, host, body);
    } catch (const Poco::Exception&) {
        out.json.clear();
        out.failed.clear();
        out.json["_result"] = result_json;  // not keyed by host: keep it whole
    }
    return out;
}

HostResults results_from_events(const std::vector<std::string>& events) {
    std::map<std::string, Poco::JSON::Object::Ptr> last;
    for (const auto& event : events) {
        try {
            auto obj = parse_json(event).extract<Poco::JSON::Object::Ptr>();
            for (const auto& [host, body] : *obj) {
                if (body.type() != typeid(Poco::JSON::Object::Ptr)) continue;
                auto b = body.extract<Poco::JSON::Object::Ptr>();
                if (!b->has(EXED_KEY_TASK)) last[host] = b;
            }
        } catch (const Poco::Exception&) {
            // Not an object keyed by host: no result in it.
        }
    }
    HostResults out;
    for (const auto& [host, body] : last) add(out, host, body);
    return out;
}

}  // namespace exed::runner
