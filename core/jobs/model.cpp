#include "jobs/model.hpp"

#include "json.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/NumberParser.h>

#include <algorithm>

namespace exed::jobs {

std::map<std::string, std::string> Job::to_fields() const {
    Poco::JSON::Array t;
    for (auto& h : targets) t.add(h);
    return {{"jid", jid},
            {"status", status},
            {"error", error},
            {"operate", operate},
            {"operate_args", operate_args.empty() ? "{}" : operate_args},
            {"targets", json_string(t)},
            {"kind", plugin_kind},
            {"ptype", plugin_type},
            {"pop", plugin_op},
            {"created", std::to_string(created_ms)},
            {"startat", std::to_string(startat)},
            {"finished", std::to_string(finished)},
            {"run_timeout", std::to_string(run_timeout)},
            {"worker", worker},
            {"cancel", cancel_requested ? "1" : "0"},
            {"sig", signature}};
}

namespace {
std::string get(const std::map<std::string, std::string>& f, const char* k) {
    auto it = f.find(k);
    return it == f.end() ? std::string() : it->second;
}
int64_t get_int(const std::map<std::string, std::string>& f, const char* k) {
    Poco::Int64 n = 0;
    Poco::NumberParser::tryParse64(get(f, k), n);
    return n;
}
}  // namespace

Job Job::from_fields(const std::map<std::string, std::string>& f) {
    Job j;
    j.jid = get(f, "jid");
    j.status = get(f, "status");
    j.error = get(f, "error");
    j.operate = get(f, "operate");
    j.operate_args = get(f, "operate_args");
    try {
        auto arr = parse_json(get(f, "targets")).extract<Poco::JSON::Array::Ptr>();
        for (size_t i = 0; i < arr->size(); ++i) j.targets.push_back(arr->getElement<std::string>(i));
    } catch (const Poco::Exception&) {
    }
    j.plugin_kind = get(f, "kind");
    j.plugin_type = get(f, "ptype");
    j.plugin_op = get(f, "pop");
    j.created_ms = get_int(f, "created");
    j.startat = get_int(f, "startat");
    j.finished = get_int(f, "finished");
    j.run_timeout = int(get_int(f, "run_timeout"));
    j.worker = get(f, "worker");
    j.cancel_requested = get(f, "cancel") == "1";
    j.signature = get(f, "sig");
    return j;
}

}  // namespace exed::jobs
