#include "release_options.hpp"

#include <exed/sdk.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/RegularExpression.h>

#include <set>

namespace exed::common {

namespace {

// Names that become path components on the targets: no "/", no "..", no
// leading "-" (git would take it for an option).
bool safe_name(const std::string& s) {
    static const Poco::RegularExpression re("^[A-Za-z0-9_][A-Za-z0-9._-]*$");
    return re.match(s) && s.find("..") == std::string::npos && s.size() <= 200;
}

const std::set<std::string>& known_keys() {
    static const std::set<std::string> k = {"giturl", "concurrency", "graceful_reload",
                                            "reload_cmd", "service", "keep", "root"};
    return k;
}

template <class T>
T get_typed(const Poco::JSON::Object::Ptr& o, const std::string& key, const char* what) {
    auto v = o->get(key);
    try {
        if constexpr (std::is_same_v<T, std::string>) {
            if (!v.isString()) throw std::bad_cast();
        } else if constexpr (std::is_same_v<T, bool>) {
            if (!v.isBoolean()) throw std::bad_cast();
        } else {
            if (!v.isInteger() || v.isBoolean()) throw std::bad_cast();
        }
        return v.convert<T>();
    } catch (const std::exception&) {
        throw exed::BadInput("extra_opts." + key + " must be " + what);
    }
}

}  // namespace

ReleaseRequest parse_request(const std::string& op, const Poco::JSON::Object::Ptr& args,
                             const Defaults& defaults) {
    ReleaseRequest r;
    r.root = defaults.root;
    r.keep = defaults.keep;
    auto targets = args->getArray("targets");
    for (size_t i = 0; targets && i < targets->size(); ++i) r.targets.push_back(targets->getElement<std::string>(i));
    r.appname = args->optValue<std::string>("appname", "");
    if (!safe_name(r.appname))
        throw exed::BadInput("appname must be letters, digits, '.', '_' or '-' (got '" + r.appname + "')");
    if (op != EXED_OP_REVISION) {
        r.revision = args->optValue<std::string>("revision", "");
        if (op == EXED_OP_RELEASE && r.revision.empty()) throw exed::BadInput("revision is required");
        if (!r.revision.empty() && !safe_name(r.revision))
            throw exed::BadInput("revision must be a full commit id or a tag name (got '" + r.revision + "')");
    }
    Poco::JSON::Object::Ptr opts = args->has("extra_opts") && !args->isNull("extra_opts")
                                       ? args->getObject("extra_opts")
                                       : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
    if (!opts) throw exed::BadInput("extra_opts must be an object");
    for (const auto& [key, value] : *opts) {
        if (!known_keys().count(key)) {
            std::string list;
            for (auto& k : known_keys()) list += (list.empty() ? "" : ", ") + k;
            throw exed::BadInput("unknown extra_opts key '" + key + "' (known: " + list + ")");
        }
    }
    if (opts->has("giturl")) r.giturl = get_typed<std::string>(opts, "giturl", "a string");
    if (op == EXED_OP_RELEASE && r.giturl.empty()) throw exed::BadInput("extra_opts.giturl is required to release");
    if (!r.giturl.empty() && r.giturl[0] == '-') throw exed::BadInput("extra_opts.giturl must not start with '-'");
    if (opts->has("concurrency")) {
        r.concurrency = get_typed<int>(opts, "concurrency", "a positive integer");
        if (r.concurrency < 1) throw exed::BadInput("extra_opts.concurrency must be a positive integer");
    }
    if (opts->has("keep")) {
        r.keep = get_typed<int>(opts, "keep", "a positive integer");
        if (r.keep < 1) throw exed::BadInput("extra_opts.keep must be a positive integer");
    }
    if (opts->has("root")) r.root = get_typed<std::string>(opts, "root", "a string");
    if (r.root.empty() || r.root[0] != '/' || r.root.find("..") != std::string::npos)
        throw exed::BadInput("extra_opts.root must be an absolute path without '..'");
    if (opts->has("graceful_reload")) r.graceful_reload = get_typed<bool>(opts, "graceful_reload", "a boolean");
    if (opts->has("reload_cmd")) r.reload_cmd = get_typed<std::string>(opts, "reload_cmd", "a string");
    if (opts->has("service")) {
        r.service = get_typed<std::string>(opts, "service", "a string");
        if (!safe_name(r.service)) throw exed::BadInput("extra_opts.service is not a valid service name");
    }
    if (r.graceful_reload && r.reload_cmd.empty() && r.service.empty())
        throw exed::BadInput("graceful_reload needs extra_opts.reload_cmd or extra_opts.service");
    return r;
}

}  // namespace exed::common
