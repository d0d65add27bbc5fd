#include "arguments.hpp"

#include <exed/sdk.hpp>

#include <Poco/RegularExpression.h>

#include <Poco/String.h>
#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace exed::ansible {
namespace {

// Whole-string match (what RegularExpression::match(string) does). Each
// caller passes a function-local `static const` pattern: compiled once
// (compiling per call cost ~200 compiles per 100-host submit,
// docs/performance.md), matched without a lock (PCRE matching of a
// compiled pattern is thread-safe; a shared map behind a mutex made all
// HTTP threads queue on it, 100 times per request).
bool matches(const std::string& text, const Poco::RegularExpression& re) { return re.match(text); }

// Anywhere in the text, like grep.
bool contains(const Poco::RegularExpression& re, const std::string& text) {
    Poco::RegularExpression::Match m;
    return re.match(text, 0, m) > 0;
}

// A string field; required unless `optional`. Returns "" when absent.
std::string string_field(const Object::Ptr& args, const std::string& key, bool optional) {
    if (!args->has(key) || args->isNull(key)) {
        if (optional) return {};
        throw exed::BadInput(key + " is required");
    }
    auto v = args->get(key);
    if (!v.isString()) throw exed::BadInput(key + " must be a string");
    return v.extract<std::string>();
}

// Host names go to ansible as a pattern list: only plain names, so a target
// can never be a pattern ("all", "web*", "!x") or an option ("-i").
// A character loop, not a regex: it runs for every target of every request
// (check() and the job). Same language as ^[A-Za-z0-9_][A-Za-z0-9_.@-]*$
// matched whole (so no trailing newline either); ASCII only, no locale.
bool host_name_char(char c, bool first) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
        return true;
    return !first && (c == '.' || c == '@' || c == '-');
}

void check_host_name(const std::string& h) {
    bool ok = !h.empty() && h.size() <= 255;
    for (size_t i = 0; ok && i < h.size(); ++i) ok = host_name_char(h[i], i == 0);
    if (!ok) throw exed::BadInput(fmt::format("invalid target host name '{}'", h));
}

bool is_true(const Poco::Dynamic::Var& v, const std::string& key) {
    if (v.type() == typeid(bool)) return v.extract<bool>();
    if (v.isInteger()) return v.convert<long>() != 0;
    if (v.isString()) {
        std::string s = Poco::toLower(v.extract<std::string>());
        if (s == "1" || s == "true" || s == "yes") return true;
        if (s == "0" || s == "false" || s == "no" || s.empty()) return false;
    }
    throw exed::BadInput(key + " must be a boolean");
}

// Connection variables would let a caller run somewhere else than the
// inventory says (ansible_connection=local runs on the exed host itself).
void check_var_names(const Object::Ptr& vars, bool allow_connection_vars, int depth) {
    for (auto& [key, value] : *vars) {
        if (key.rfind("__ansible", 0) == 0)  // our unsafe wrapper's reserved keys
            throw exed::BadInput(fmt::format("extra_vars key '{}' is reserved", key));
        if (depth == 0) {
            static const Poco::RegularExpression var_name(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
            if (key.size() > 255 || !matches(key, var_name))
                throw exed::BadInput(fmt::format("extra_vars key '{}' is not a valid variable name", key));
            if (!allow_connection_vars && Poco::toLower(key).rfind("ansible_", 0) == 0)
                throw exed::BadInput(fmt::format(
                    "extra_vars key '{}' is refused: ansible_* variables change how and where "
                    "ansible connects (set allow_connection_vars = true to allow)", key));
        }
        if (value.type() == typeid(Object::Ptr))
            check_var_names(value.extract<Object::Ptr>(), allow_connection_vars, depth + 1);
        if (value.type() == typeid(Array::Ptr)) {
            auto arr = value.extract<Array::Ptr>();
            for (size_t i = 0; i < arr->size(); ++i)
                if (arr->isObject(i))
                    check_var_names(arr->getObject(i), allow_connection_vars, depth + 1);
        }
    }
}

// Does `tag` appear as a word in the role's task files? A grep, not a YAML
// parse: it catches typos without running ansible on an HTTP thread.
bool role_mentions_tag(const fs::path& role_dir, const std::string& tag) {
    std::string quoted;  // tag is [A-Za-z0-9_.:-]+ (checked): quote the punctuation
    for (char ch : tag) quoted += std::isalnum(static_cast<unsigned char>(ch)) ? std::string(1, ch)
                                                                             : std::string("\\") + ch;
    Poco::RegularExpression word("(^|[^A-Za-z0-9_.:-])" + quoted +
                                 "([^A-Za-z0-9_.:-]|$)", Poco::RegularExpression::RE_MULTILINE);
    std::error_code ec;
    for (const char* sub : {"tasks", "handlers", "meta"}) {
        fs::path dir = role_dir / sub;
        if (!fs::is_directory(dir, ec)) continue;
        for (auto it = fs::recursive_directory_iterator(dir, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (!it->is_regular_file(ec)) continue;
            std::ifstream in(it->path());
            std::stringstream text;
            text << in.rdbuf();
            if (contains(word, text.str())) return true;
        }
    }
    return false;
}

}  // namespace

std::vector<std::string> targets_arg(const Object::Ptr& args) {
    if (!args->has("targets") || args->isNull("targets")) throw exed::BadInput("targets is required");
    auto v = args->get("targets");
    std::vector<std::string> out;
    if (v.isString()) {
        out.push_back(v.extract<std::string>());
    } else if (v.type() == typeid(Array::Ptr)) {
        // By reference: Array::get(i) returns a copy of each value (an
        // allocation per target, twice per target here).
        const auto& arr = v.extract<Array::Ptr>();
        out.reserve(arr->size());
        for (auto it = arr->begin(); it != arr->end(); ++it) {
            if (!it->isString()) throw exed::BadInput("targets must be an array of strings");
            out.push_back(it->extract<std::string>());
        }
    } else {
        throw exed::BadInput("targets must be an array of strings");
    }
    if (out.empty()) throw exed::BadInput("targets must not be empty");
    for (auto& h : out) check_host_name(h);
    return out;
}

std::string pattern_arg(const Object::Ptr& args) {
    std::string pattern = string_field(args, "pattern", true);
    return Poco::trim(pattern).empty() ? "*" : pattern;
}

std::string ServiceArgs::ansible_state() const {
    switch (state) {
        case EXED_SERVICE_STARTED: return "started";  // ansible's service module states
        case EXED_SERVICE_STOPPED: return "stopped";
        case EXED_SERVICE_RESTARTED: return graceful ? "reloaded" : "restarted";
    }
    return "started";
}

ServiceArgs service_args(const Object::Ptr& args) {
    ServiceArgs s;
    s.name = string_field(args, "name", false);
    // Plain unit names only: no options ("-x"), no spaces, no templates.
    static const Poco::RegularExpression unit_name(R"(^[A-Za-z0-9@._:-]+$)");
    if (s.name.empty() || s.name.size() > 255 || s.name[0] == '-' || !matches(s.name, unit_name))
        throw exed::BadInput(fmt::format("invalid service name '{}'", s.name));
    if (!args->has("state") || args->isNull("state")) throw exed::BadInput("state is required");
    auto st = args->get("state");
    long state = -1;
    static const Poco::RegularExpression digit("^[0-9]$");
    if (st.isInteger()) state = st.convert<long>();
    else if (st.isString() && matches(st.extract<std::string>(), digit))
        state = std::stol(st.extract<std::string>());
    if (state < EXED_SERVICE_STARTED || state > EXED_SERVICE_RESTARTED) throw exed::BadInput(EXED_SERVICE_STATE_RULE);
    s.state = static_cast<exed_service_state>(state);
    if (args->has("graceful") && !args->isNull("graceful"))
        s.graceful = is_true(args->get("graceful"), "graceful");
    return s;
}

ExecuteArgs execute_args(const Object::Ptr& args) {
    ExecuteArgs e;
    bool has_cmd = args->has("cmd") && !args->isNull("cmd");
    e.has_argv = args->has("argv") && !args->isNull("argv");
    // exed splits cmd itself (docs/api.md, "One argv rule") and sends both:
    // argv runs, cmd is the text the user gave. cmd alone: a job queued by an
    // older exed, split by the module's shlex as before.
    if (!has_cmd && !e.has_argv) throw exed::BadInput("cmd or argv is required");
    if (!e.has_argv) {
        e.cmd = string_field(args, "cmd", false);
        if (Poco::trim(e.cmd).empty()) throw exed::BadInput("cmd must not be empty");
        if (e.cmd.find('\0') != std::string::npos) throw exed::BadInput("cmd contains a NUL byte");
        return e;
    }
    auto v = args->get("argv");
    if (v.type() != typeid(Array::Ptr)) throw exed::BadInput("argv must be an array of strings");
    auto arr = v.extract<Array::Ptr>();
    for (size_t i = 0; i < arr->size(); ++i) {
        if (!arr->get(i).isString()) throw exed::BadInput("argv must be an array of strings");
        e.argv.push_back(arr->get(i).extract<std::string>());
        if (e.argv.back().find('\0') != std::string::npos)
            throw exed::BadInput("argv contains a NUL byte");
    }
    if (e.argv.empty() || e.argv[0].empty()) throw exed::BadInput("argv must not be empty");
    return e;
}

DeployArgs deploy_args(const Object::Ptr& args, const Config& config) {
    DeployArgs d;
    d.role = string_field(args, "role", false);
    static const Poco::RegularExpression role_name(R"(^[A-Za-z0-9_][A-Za-z0-9_.-]*$)");
    // Length first: no regex runs on long request data (issue 14).
    if (d.role.size() > 255 || !matches(d.role, role_name))
        throw exed::BadInput(fmt::format("invalid role name '{}'", d.role));
    fs::path role_dir = fs::path(config.playbooks) / "roles" / d.role;
    std::error_code ec;
    if (!fs::is_directory(role_dir, ec))
        throw exed::NotFound(fmt::format("no such role: {}", d.role));

    d.partial = string_field(args, "partial", true);
    if (!d.partial.empty()) {
        static const Poco::RegularExpression tag_name(R"(^[A-Za-z0-9_.:-]+$)");
        if (d.partial.size() > 255) throw exed::BadInput("partial (a tag) is longer than 255 bytes");
        if (d.partial[0] == '-' || !matches(d.partial, tag_name))
            throw exed::BadInput(fmt::format("invalid tag '{}'", d.partial));
        if (!role_mentions_tag(role_dir, d.partial))
            throw exed::NotFound(fmt::format("role {} has no tag {}", d.role, d.partial));
    }

    d.extra_vars = new Object;
    if (args->has("extra_vars") && !args->isNull("extra_vars")) {
        auto v = args->get("extra_vars");
        if (v.type() != typeid(Object::Ptr)) throw exed::BadInput("extra_vars must be an object");
        d.extra_vars = v.extract<Object::Ptr>();
        check_var_names(d.extra_vars, config.allow_connection_vars, 0);
    }
    return d;
}

}  // namespace exed::ansible
