#include "jobs/model.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/NumberParser.h>

#include <sstream>

namespace exed::jobs {

bool status::terminal(const std::string& s) { return s == done || s == failed || s == cancelled; }

std::string json_string(const Poco::Dynamic::Var& v) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(v, out);
    return out.str();
}

Poco::Dynamic::Var parse_json(const std::string& text) { return Poco::JSON::Parser().parse(text); }

std::map<std::string, std::string> Job::to_fields() const {
    Poco::JSON::Array t;
    for (auto& h : targets) t.add(h);
    return {{"jid", jid},
            {"state", std::to_string(state)},
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
    j.state = int(get_int(f, "state"));
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

Poco::JSON::Object::Ptr Job::to_json(const std::map<std::string, std::string>* returns) const {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("jid", jid);
    o->set("state", state);
    o->set("status", status);
    o->set("error", error);
    o->set("startat", startat);
    o->set("created", created_ms / 1000);
    o->set("finished", finished);
    o->set("operate", operate);
    try {
        o->set("operate_args", parse_json(operate_args.empty() ? "{}" : operate_args));
    } catch (const Poco::Exception&) {
        o->set("operate_args", operate_args);
    }
    Poco::JSON::Array t;
    for (auto& h : targets) t.add(h);
    o->set("targets", t);
    if (returns) {
        Poco::JSON::Object::Ptr data = new Poco::JSON::Object;
        for (auto& [host, json] : *returns) {
            try {
                data->set(host, parse_json(json));
            } catch (const Poco::Exception&) {
                data->set(host, json);
            }
        }
        o->set("return_data", data);
    }
    return o;
}

}  // namespace exed::jobs
