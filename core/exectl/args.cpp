#include "exectl/args.hpp"

#include "exectl/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace exectl {

namespace {

const std::vector<std::string> kGlobal = {"url", "token", "cacert", "json", "help"};

struct OptionInfo {
    std::string name;
    const char* value;  // null: a flag
    const char* help;
};

const std::vector<OptionInfo>& option_table() {
    namespace arg = exed::catalogue::arg;  // an operation's optional args are options
    static const std::vector<OptionInfo> t = {
        {"url", "URL", "exed's address (EXED_URL; default http://127.0.0.1:16808)"},
        {"token", "TOKEN", "bearer token (EXED_TOKEN, EXED_TOKEN_FILE)"},
        {"cacert", "FILE", "CA certificate(s) to verify an https exed with"},
        {"json", nullptr, "print JSON (NDJSON when following) even on a terminal"},
        {"help", nullptr, "show this help"},
        {"async", nullptr, "queue the job, print its jid and return at once"},
        {"run-timeout", "SECONDS", "kill the job after this long (default: exed's run_timeout)"},
        {option_of(arg::graceful), nullptr, "restart: reload instead"},
        {option_of(arg::partial), "TAG", "run only the role's tasks tagged TAG"},
        {option_of(arg::extra_vars), "JSON", "variables for the role, a JSON object"},
        {option_of(arg::rollback), nullptr, "roll back to the previous release"},
        {option_of(arg::extra_opts), "JSON", "options for the release type, a JSON object"},
        {"limit", "N", "at most N jobs, newest first (1-10000; default 20)"},
        {"follow", nullptr, "stream the job's events until it ends"},
        {"quorum", "Q", "shovey run: \"N%\" of the nodes or a count that must be up (default 100%)"},
        {"output-type", "T", "shovey output: stdout, stderr or both (default stdout)"},
    };
    return t;
}

const OptionInfo* find_option(const std::string& name) {
    for (const auto& o : option_table())
        if (name == o.name) return &o;
    return nullptr;
}

namespace cat = exed::catalogue;

// An operation's command, read from the catalogue: `HOSTS` then its
// required args (the service state as start|stop|restart; execute's cmd
// as `-- ARGV...`), its optional args as options.
CommandSpec operation_command(const cat::Operation& op) {
    CommandSpec c{op.name, "HOSTS", op.summary, {"async", "run-timeout"}, 1, 1};
    c.operation = &op;
    for (const auto& a : op.args) {
        std::string name = a.name;
        if (!a.required) {
            c.options.push_back(option_of(name));
        } else if (name == cat::arg::cmd) {
            c.takes_argv = true;
            c.usage += " -- ARGV...";
        } else {
            std::string word;
            if (name == cat::arg::state)
                for (const auto& st : cat::service_states()) word += (word.empty() ? "" : "|") + std::string(st.verb);
            else
                for (char ch : name) word += char(std::toupper(static_cast<unsigned char>(ch)));
            c.usage += " " + word;
            ++c.min_args;
            ++c.max_args;
        }
    }
    return c;
}

std::vector<CommandSpec> command_table() {
    std::vector<CommandSpec> c;
    for (const auto& op : cat::operations()) c.push_back(operation_command(op));
    std::vector<CommandSpec> rest = {
        {"target", "[PATTERN]", "list the hosts matching PATTERN (default *)", {}, 0, 1},
        {"jobs", "", "list recent jobs, newest first", {"limit"}, 0, 0},
        {"job", "JID", "show a job (with its per-host results)", {"follow"}, 1, 1},
        {"cancel", "JID", "cancel a queued or running job", {}, 1, 1},
        {"shovey", "run|jobs|job|cancel|output|nodes ...", "the Shovey face: named commands on nodes with a quorum",
         {"async", "run-timeout", "quorum", "limit", "output-type"}, 1, 4},
    };
    c.insert(c.end(), rest.begin(), rest.end());
    return c;
}

}  // namespace

std::string option_of(const std::string& arg_name) {
    std::string o = arg_name;
    std::replace(o.begin(), o.end(), '_', '-');
    return o;
}

const std::vector<CommandSpec>& commands() {
    static const std::vector<CommandSpec> c = command_table();
    return c;
}

const CommandSpec* find_command(const std::string& name) {
    for (const auto& c : commands())
        if (c.name == name) return &c;
    return nullptr;
}

bool option_takes_value(const std::string& name) {
    auto o = find_option(name);
    return o && o->value;
}

std::string option_help(const std::string& name) {
    auto o = find_option(name);
    if (!o) return "";
    std::string left = "--" + o->name + (o->value ? std::string(" ") + o->value : "");
    return fmt::format("  {:<22} {}\n", left, o->help);
}

Args parse_args(const std::vector<std::string>& raw) {
    Args a;
    std::vector<std::string> words;
    for (size_t i = 0; i < raw.size(); ++i) {
        const std::string& w = raw[i];
        if (w == "--") {
            a.saw_separator = true;
            a.argv.assign(raw.begin() + long(i) + 1, raw.end());
            break;
        }
        if (w == "-h") {
            a.help = true;
            continue;
        }
        if (w.rfind("--", 0) == 0) {
            std::string name = w.substr(2), value;
            size_t eq = name.find('=');
            bool inline_value = eq != std::string::npos;
            if (inline_value) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            if (!find_option(name)) throw UsageError("unknown option --" + name);
            if (option_takes_value(name) && !inline_value) {
                if (i + 1 >= raw.size()) throw UsageError("--" + name + " needs a value");
                value = raw[++i];
            } else if (!option_takes_value(name) && inline_value) {
                throw UsageError("--" + name + " takes no value");
            }
            if (name == "help") a.help = true;
            a.options[name] = value;
            continue;
        }
        if (w.size() > 1 && w[0] == '-' && words.empty()) throw UsageError("unknown option " + w);
        words.push_back(w);
    }
    if (words.empty()) {
        if (a.help) return a;
        throw UsageError("no command given");
    }
    a.command = find_command(words[0]);
    if (!a.command) throw UsageError("unknown command '" + words[0] + "'");
    a.positional.assign(words.begin() + 1, words.end());
    if (a.help) return a;
    const auto& c = *a.command;
    for (const auto& [name, v] : a.options) {
        bool ok = std::find(kGlobal.begin(), kGlobal.end(), name) != kGlobal.end() ||
                  std::find(c.options.begin(), c.options.end(), name) != c.options.end();
        if (!ok) throw UsageError("option --" + name + " does not apply to " + c.name);
    }
    if (c.takes_argv) {
        // `execute HOSTS -- ARGV...`; without "--", the words after HOSTS are the argv.
        if (!a.saw_separator && a.positional.size() > 1) {
            a.argv.assign(a.positional.begin() + 1, a.positional.end());
            a.positional.resize(1);
        }
        if (a.argv.empty()) throw UsageError(c.name + " needs a command: exectl " + c.name + " " + c.usage);
    } else if (a.saw_separator) {
        throw UsageError(c.name + " takes no arguments after --");
    }
    if (a.positional.size() < c.min_args || a.positional.size() > c.max_args)
        throw UsageError(fmt::format("usage: exectl {} {}", c.name, c.usage));
    return a;
}

std::string global_help() {
    std::string out =
        "usage: exectl [OPTIONS] COMMAND [ARGS]\n\n"
        "Command-line client of exed. Operations wait for the job to end (a live\n"
        "progress line on a terminal) unless --async is given.\n\ncommands:\n";
    for (const auto& c : commands()) out += fmt::format("  {:<9} {}\n", c.name, c.summary);
    out += "\noptions:\n";
    for (const auto& g : kGlobal) out += option_help(g);
    out +=
        "\nHOSTS is a comma-separated list of host names or patterns.\n"
        "Settings: --url/--token/--cacert, else EXED_URL, EXED_TOKEN, EXED_TOKEN_FILE,\n"
        "else ~/.config/exed/exectl.conf (url = ..., token = ..., token_file = ..., cacert = ...).\n"
        "Colour only on a terminal, never with NO_COLOR set.\n\n"
        "exit codes: 0 every host ok; 1 some host failed or unreachable (or the job failed);\n"
        "            2 usage error (or exed refused the request as invalid);\n"
        "            3 exed unreachable or refused (connection, TLS, authentication, 5xx).\n"
        "`exectl COMMAND --help` describes a command.\n";
    return out;
}

std::string command_help(const CommandSpec& c) {
    std::string out = fmt::format("usage: exectl {} {}\n\n{}.\n", c.name, c.usage, c.summary);
    if (c.takes_argv)
        out += "\nEach word after -- is one argument of the command, exactly as given\n"
               "(quoted for exed, never run through a shell).\n";
    if (c.name == "job") out += "\nWith --follow: a live view on a terminal, NDJSON events otherwise.\n";
    if (c.name == "shovey")
        out += "\n  shovey run COMMAND NODES    run a [shovey.commands] name on nodes; waits\n"
               "                             for the end unless --async (exit 1 unless every\n"
               "                             node succeeded)\n"
               "  shovey jobs                job ids, newest first (--limit)\n"
               "  shovey job ID [NODE]       a job, or one node's run\n"
               "  shovey cancel ID [NODES]   cancel the runs (all, or the nodes given)\n"
               "  shovey output ID NODE      a node's output (--output-type)\n"
               "  shovey nodes [NODE]        node status (up/down), all or one\n";
    out += "\noptions:\n";
    for (const auto& o : c.options) out += option_help(o);
    for (const auto& g : kGlobal) out += option_help(g);
    return out;
}

}  // namespace exectl
