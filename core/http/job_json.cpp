#include "http/job_json.hpp"

#include "json.hpp"

#include <Poco/JSON/Array.h>

namespace exed::http {

Poco::JSON::Object::Ptr job_json(const jobs::Job& job,
                                 const std::map<std::string, std::string>* returns) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("jid", job.jid);
    o->set("state", int(job.state()));
    o->set("status", job.status);
    o->set("error", job.error);
    o->set("startat", job.startat);
    o->set("created", job.created_ms / 1000);
    o->set("finished", job.finished);
    o->set("operate", job.operate);
    const std::string& args = job.operate_args.empty() ? "{}" : job.operate_args;
    try {
        auto v = parse_json(args);
        if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
            Poco::JSON::Object::Ptr shown = v.extract<Poco::JSON::Object::Ptr>();
            shown->remove("targets");
            o->set("operate_args", shown);
        } else {
            o->set("operate_args", v);
        }
    } catch (const Poco::Exception&) {
        o->set("operate_args", args);
    }
    Poco::JSON::Array t;
    for (auto& h : job.targets) t.add(h);
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

}  // namespace exed::http
