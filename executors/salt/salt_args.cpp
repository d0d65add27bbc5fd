#include "salt_args.hpp"

#include <exed/sdk.hpp>

#include <Poco/NumberParser.h>
#include <Poco/RegularExpression.h>
#include <Poco/String.h>

#include <set>

namespace exed::salt {

namespace {

bool matches(const std::string& re, const std::string& s) {
    Poco::RegularExpression rx(re);
    return rx.match(s);
}

// A minion id goes to Salt inside a JSON list (tgt_type "list"), so it can
// not become a glob or an option; still, refuse what no minion id looks like.
void check_minion_id(const std::string& id) {
    if (id.empty() || id.size() > 255 || !matches("^[^\\s,*?\\[\\]!]+$", id) || id[0] == '-')
        throw BadInput("invalid target '" + id + "'");
}

std::string optional_string(const Object::Ptr& args, const std::string& key) {
    if (!args->has(key) || args->get(key).isEmpty()) return "";
    if (!args->get(key).isString()) throw BadInput(key + " must be a string");
    return args->get(key).toString();
}

// Accepts true/false, 0/1 and their string forms (query strings send text).
bool bool_arg(const Object::Ptr& args, const std::string& key) {
    if (!args->has(key) || args->get(key).isEmpty()) return false;
    Var v = args->get(key);
    if (v.isBoolean()) return v.extract<bool>();
    if (v.isInteger()) {
        int i = v.convert<int>();
        if (i == 0 || i == 1) return i == 1;
    }
    if (v.isString()) {
        std::string s = Poco::toLower(v.toString());
        if (s == "1" || s == "true") return true;
        if (s == "0" || s == "false" || s.empty()) return false;
    }
    throw BadInput(key + " must be a boolean");
}

// A SLS name: dot-separated path components of salt://, no "..", no "/".
const char* const sls_re = "^[A-Za-z0-9_][A-Za-z0-9_-]*(\\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$";

}  // namespace

std::string pattern_arg(const Object::Ptr& args) {
    std::string p = Poco::trim(optional_string(args, "pattern"));
    return p.empty() ? "*" : p;
}

std::vector<std::string> targets_arg(const Object::Ptr& args) {
    if (!args->has("targets")) throw BadInput("targets is required");
    auto arr = as_array(args->get("targets"));
    if (!arr) throw BadInput("targets must be an array of minion ids");
    if (arr->size() == 0) throw BadInput("targets must not be empty");
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (size_t i = 0; i < arr->size(); ++i) {
        if (!arr->get(i).isString()) throw BadInput("targets must be an array of strings");
        std::string id = arr->get(i).toString();
        check_minion_id(id);
        if (seen.insert(id).second) out.push_back(id);
    }
    return out;
}

ServiceArgs service_args(const Object::Ptr& args) {
    ServiceArgs s;
    s.targets = targets_arg(args);
    s.name = optional_string(args, "name");
    if (s.name.empty()) throw BadInput("name is required");
    // A unit name, never an option or a path: salt hands it to systemctl.
    if (s.name.size() > 256 || !matches("^[A-Za-z0-9_][A-Za-z0-9_.@:+-]*$", s.name))
        throw BadInput("invalid service name '" + s.name + "'");
    if (!args->has("state") || args->get("state").isEmpty()) throw BadInput("state is required");
    Var st = args->get("state");
    int state = -1;
    if (st.isInteger())
        state = st.convert<int>();
    else if (!st.isString() || !Poco::NumberParser::tryParse(st.toString(), state))
        throw BadInput(EXED_SERVICE_STATE_RULE);
    if (state < EXED_SERVICE_STARTED || state > EXED_SERVICE_RESTARTED) throw BadInput(EXED_SERVICE_STATE_RULE);
    s.state = exed_service_state(state);
    s.graceful = bool_arg(args, "graceful");
    return s;
}

ExecuteArgs execute_args(const Object::Ptr& args) {
    ExecuteArgs e;
    e.targets = targets_arg(args);
    bool has_cmd = args->has("cmd") && !args->get("cmd").isEmpty();
    bool has_argv = args->has("argv") && !args->get("argv").isEmpty();
    // exed splits cmd itself (docs/api.md, "One argv rule") and sends both:
    // argv runs, cmd is the text the user gave.
    if (!has_cmd && !has_argv) throw BadInput("give cmd (a string) or argv (a list)");
    if (!has_argv) {
        if (!args->get("cmd").isString()) throw BadInput("cmd must be a string");
        if (Poco::trim(args->get("cmd").toString()).empty()) throw BadInput("cmd is required");
        e.command = args->get("cmd");
        return e;
    }
    auto argv = as_array(args->get("argv"));
    if (!argv || argv->size() == 0) throw BadInput("argv must be a non-empty list of strings");
    for (size_t i = 0; i < argv->size(); ++i)
        if (!argv->get(i).isString()) throw BadInput("argv must be a non-empty list of strings");
    if (argv->get(0).toString().empty()) throw BadInput("argv[0] must not be empty");
    e.command = argv;
    return e;
}

DeployArgs deploy_args(const Object::Ptr& args) {
    DeployArgs d;
    d.targets = targets_arg(args);
    std::string role = optional_string(args, "role");
    if (role.empty()) throw BadInput("role is required");
    if (!matches(sls_re, role)) throw BadInput("invalid role '" + role + "' (a SLS name)");
    std::string partial = optional_string(args, "partial");
    if (!partial.empty() && !matches(sls_re, partial))
        throw BadInput("invalid partial '" + partial + "' (a SLS name)");
    d.sls = partial.empty() ? role : role + "." + partial;
    d.pillar = new Object;
    if (args->has("extra_vars") && !args->get("extra_vars").isEmpty()) {
        d.pillar = as_object(args->get("extra_vars"));
        if (!d.pillar) throw BadInput("extra_vars must be an object");
    }
    return d;
}

void check_args(const std::string& op, const std::string& args_json) {
    auto args = parse_object(args_json, "arguments");
    if (op == EXED_OP_TARGETS)
        pattern_arg(args);
    else if (op == EXED_OP_PING || op == EXED_OP_FACTER)
        targets_arg(args);
    else if (op == EXED_OP_SERVICE)
        service_args(args);
    else if (op == EXED_OP_EXECUTE)
        execute_args(args);
    else if (op == EXED_OP_DEPLOY)
        deploy_args(args);
    // Any other op is not ours to judge: invoking it answers "unsupported".
}

}  // namespace exed::salt
