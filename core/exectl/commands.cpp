#include "exectl/commands.hpp"
#include "jobs/status.hpp"

#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/NumberParser.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <fmt/format.h>

#include <cctype>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>

namespace exectl {

using Poco::JSON::Array;
using Poco::JSON::Object;
namespace jobs = exed::jobs;

std::string to_json(const Poco::Dynamic::Var& v) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(v, out);
    return out.str();
}

std::string enc(const std::string& s) {
    std::string out;
    Poco::URI::encode(s, "!#$&'()*+,/:;=?@[]", out);
    return out;
}

// An error answer of exed as the exception that gives its exit code.
[[noreturn]] void refuse(const Answer& a) {
    std::string msg = error_message(a);
    if (a.status == 401 || a.status == 403 || a.status >= 500)
        throw Unreachable(fmt::format("exed refused ({}): {}", a.status, msg));
    if (a.status == 409) throw JobFailed(fmt::format("exed: {} ({})", msg, a.status));
    throw UsageError(fmt::format("exed: {} ({})", msg, a.status));
}

Answer expect(Answer a, std::initializer_list<int> ok) {
    for (int s : ok)
        if (a.status == s) return a;
    refuse(a);
}

Object::Ptr object_of(const Answer& a) {
    auto v = a.json();
    if (v.type() != typeid(Object::Ptr)) throw Unreachable("exed answered an unexpected body: " + a.body);
    return v.extract<Object::Ptr>();
}

namespace {

Poco::Dynamic::Var json_option(const Args& a, const std::string& name) {
    Poco::Dynamic::Var v;
    try {
        v = Poco::JSON::Parser().parse(a.get(name));
    } catch (const Poco::Exception& e) {
        throw UsageError("--" + name + " is not valid JSON: " + e.displayText());
    }
    if (v.type() != typeid(Object::Ptr)) throw UsageError("--" + name + " must be a JSON object");
    return v;
}

namespace cat = exed::catalogue;

// "start", "started" or "0" -> 0 (and so on): the catalogue's words.
int service_state(const std::string& word) {
    std::string verbs;
    for (const auto& st : cat::service_states()) {
        if (word == st.verb || word == st.participle || word == std::to_string(st.value)) return st.value;
        verbs += std::string(verbs.empty() ? "" : &st == &cat::service_states().back() ? " or " : ", ") + st.verb;
    }
    throw UsageError("service state must be " + verbs);
}

// The request body of an operation command (args.hpp: positional
// arguments are the operation's required args, options the optional ones).
Object::Ptr operation_body(const Args& a) {
    const auto& op = *a.command->operation;
    Object::Ptr body = new Object;
    Array targets;
    Poco::StringTokenizer hosts(a.positional[0], ",", Poco::StringTokenizer::TOK_IGNORE_EMPTY |
                                                          Poco::StringTokenizer::TOK_TRIM);
    for (const auto& h : hosts) targets.add(h);
    if (targets.size() == 0) throw UsageError("HOSTS must name at least one host");
    body->set(cat::arg::targets, targets);
    if (a.has("run-timeout")) {
        int s = 0;
        if (!Poco::NumberParser::tryParse(a.get("run-timeout"), s) || s <= 0)
            throw UsageError("--run-timeout must be a positive number of seconds");
        body->set(cat::arg::run_timeout, s);
    }
    size_t next = 1;  // positional[0] is HOSTS
    for (const auto& arg : op.args) {
        std::string name = arg.name;
        if (name == cat::arg::cmd) {
            body->set(name, quote_argv(a.argv));
        } else if (arg.required) {
            const std::string& word = a.positional.at(next++);
            if (name == cat::arg::state) body->set(name, service_state(word));
            else body->set(name, word);
        } else if (a.has(option_of(name))) {
            std::string option = option_of(name);
            if (arg.type == cat::ArgType::Bool) body->set(name, true);
            else if (arg.type == cat::ArgType::Object) body->set(name, json_option(a, option));
            else body->set(name, a.get(option));
        }
    }
    return body;
}

// 0 when the job is done and every host ok; 1 otherwise.
int exit_code_of(const Object::Ptr& record) {
    std::string status = record->optValue<std::string>("status", "");
    if (jobs::state_of(status) == jobs::Failure) return 1;
    auto data = record->getObject("return_data");
    auto targets = record->getArray("targets");
    if (data && targets)
        for (size_t i = 0; i < targets->size(); ++i)
            if (!data->has(targets->getElement<std::string>(i))) return status == jobs::status::done ? 1 : 0;
    if (data)
        for (const auto& [host, r] : *data)
            if (verdict_failed(verdict(r))) return 1;
    return 0;
}

Object::Ptr record_with_outputs(Client& c, const std::string& jid) {
    return object_of(expect(c.call("GET", "/jobs/" + enc(jid) + "?outputs=1"), {200}));
}

// Follows a job to its end. Terminal: the live view. Otherwise NDJSON lines
// as they come (raw) or nothing; then the record decides the exit code.
int follow(Client& c, const Term& term, const std::string& jid, bool print_ndjson, bool print_record) {
    std::unique_ptr<ProgressView> view;
    if (term.human) view = std::make_unique<ProgressView>(term, jid);
    std::string end_status, end_error;
    bool ended = false;
    auto answer = c.stream("/jobs/" + enc(jid) + "?follow=1", [&](const std::string& line) {
        if (print_ndjson) std::cout << line << "\n" << std::flush;
        Poco::Dynamic::Var v;
        try {
            v = Poco::JSON::Parser().parse(line);
        } catch (const Poco::Exception&) {
            return true;  // not ours to judge: printed as it came
        }
        if (v.type() != typeid(Object::Ptr)) return true;
        auto ev = v.extract<Object::Ptr>();
        std::string type = ev->optValue<std::string>("event", "");
        auto data = ev->get("data");
        if (type == "job" && view && data.type() == typeid(Object::Ptr)) {
            std::set<std::string> hosts;
            if (auto t = data.extract<Object::Ptr>()->getArray("targets"))
                for (size_t i = 0; i < t->size(); ++i) hosts.insert(t->getElement<std::string>(i));
            view->set_targets(hosts);
        } else if (type == "host" && view) {
            view->host_event(data);
        } else if (type == "end") {
            ended = true;
            if (data.type() == typeid(Object::Ptr)) {
                end_status = data.extract<Object::Ptr>()->optValue<std::string>("status", "");
                end_error = data.extract<Object::Ptr>()->optValue<std::string>("error", "");
            }
            return false;
        }
        return true;
    });
    if (answer.status != 200) refuse(answer);
    if (!ended) {
        view.reset();
        throw Unreachable("the event stream of job " + jid + " ended before the job did");
    }
    if (view) view->finish(end_status, end_error);
    auto record = record_with_outputs(c, jid);
    if (print_record) std::cout << to_json(record) << "\n";
    return exit_code_of(record);
}

int operation(const Args& a, Client& c, const Term& term) {
    auto body = operation_body(a);
    auto answer = expect(c.call("POST", "/" + a.command->name, to_json(body)), {201});
    std::string jid = object_of(answer)->optValue<std::string>("jid", "");
    if (a.has("async")) {
        if (term.human) std::cout << jid << "\n";
        else std::cout << answer.body << "\n";
        return 0;
    }
    return follow(c, term, jid, false, !term.human);
}

std::string when(const Poco::Dynamic::Var& epoch_s) {
    try {
        long s = epoch_s.convert<long>();
        if (s <= 0) return "-";
        return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(s), "%Y-%m-%d %H:%M:%S");
    } catch (const Poco::Exception&) {
        return "-";
    }
}

std::string status_word(const Term& term, const std::string& s) {
    if (s == jobs::status::done) return term.paint("32", s);
    if (jobs::state_of(s) == jobs::Failure) return term.paint("31", s);
    return term.paint("33", s);
}

std::string join_targets(const Object::Ptr& job) {
    std::string out;
    if (auto t = job->getArray("targets"))
        for (size_t i = 0; i < t->size(); ++i) out += (i ? "," : "") + t->getElement<std::string>(i);
    return out;
}

int list_jobs(const Args& a, Client& c, const Term& term) {
    int limit = 20;
    if (a.has("limit") && !Poco::NumberParser::tryParse(a.get("limit"), limit))
        throw UsageError("--limit must be a number");
    auto answer = expect(c.call("GET", "/jobs?detail=1&limit=" + std::to_string(limit)), {200});
    if (!term.human) {
        std::cout << answer.body << "\n";
        return 0;
    }
    auto jobs = answer.json().extract<Array::Ptr>();
    std::cout << fmt::format("{:<38} {:<10} {:<8} {:<19} {}\n", "JID", "STATUS", "OP", "CREATED", "TARGETS");
    for (size_t i = 0; i < jobs->size(); ++i) {
        auto j = jobs->getObject(unsigned(i));
        std::string status = j->optValue<std::string>("status", "");
        std::string padded = status_word(term, status) + std::string(status.size() < 10 ? 10 - status.size() : 0, ' ');
        std::cout << fmt::format("{:<38} {} {:<8} {:<19} {}\n", j->optValue<std::string>("jid", ""), padded,
                                 j->optValue<std::string>("operate", ""), when(j->get("created")),
                                 join_targets(j));
    }
    return 0;
}

int show_job(const Args& a, Client& c, const Term& term) {
    const std::string& jid = a.positional[0];
    if (a.has("follow")) return follow(c, term, jid, !term.human, false);
    auto record = record_with_outputs(c, jid);
    if (!term.human) {
        std::cout << to_json(record) << "\n";
    } else {
        std::string status = record->optValue<std::string>("status", "");
        std::cout << "job      " << jid << "\nstatus   " << status_word(term, status) << "\noperate  "
                  << record->optValue<std::string>("operate", "") << " "
                  << to_json(record->get("operate_args")) << "\ntargets  " << join_targets(record)
                  << "\ncreated  " << when(record->get("created")) << "\nfinished "
                  << when(record->get("finished")) << "\n";
        std::string error = record->optValue<std::string>("error", "");
        if (!error.empty()) std::cout << "error    " << error << "\n";
        if (auto data = record->getObject("return_data"))
            for (const auto& [host, r] : *data)
                std::cout << term.paint("1", host) << "  " << verdict(r) << "  " << to_json(r) << "\n";
    }
    std::string status = record->optValue<std::string>("status", "");
    return jobs::state_of(status) == jobs::Failure ? 1 : 0;
}

int targets(const Args& a, Client& c, const Term& term) {
    std::string pattern = a.positional.empty() ? "*" : a.positional[0];
    auto answer = expect(c.call("GET", "/target?pattern=" + enc(pattern)), {200});
    if (!term.human) {
        std::cout << answer.body << "\n";
        return 0;
    }
    auto hosts = answer.json().extract<Array::Ptr>();
    for (size_t i = 0; i < hosts->size(); ++i) std::cout << hosts->getElement<std::string>(i) << "\n";
    return 0;
}

int cancel(const Args& a, Client& c, const Term& term) {
    const std::string& jid = a.positional[0];
    auto answer = expect(c.call("POST", "/jobs/" + enc(jid) + "/cancel"), {200, 202});
    if (!term.human) std::cout << answer.body << "\n";
    else std::cout << "job " << jid << " " << object_of(answer)->optValue<std::string>("status", "") << "\n";
    return 0;
}

}  // namespace

std::string quote_argv(const std::vector<std::string>& argv) {
    // As Python's shlex.quote: plain words stay bare (readable job records);
    // others go in single quotes, which keep everything literal, a single
    // quote itself being closed, escaped as "'", and reopened.
    auto plain = [](const std::string& w) {
        if (w.empty()) return false;
        for (unsigned char ch : w)
            if (!std::isalnum(ch) && !std::strchr("@%+=:,./-_", ch)) return false;
        return true;
    };
    std::string out;
    for (const auto& word : argv) {
        if (!out.empty()) out += ' ';
        if (plain(word)) {
            out += word;
            continue;
        }
        out += '\'';
        for (char ch : word) {
            if (ch == '\'') out += "'\"'\"'";
            else out += ch;
        }
        out += '\'';
    }
    return out;
}

int run_command(const Args& a, Client& c, const Term& term) {
    const std::string& name = a.command->name;
    if (name == "jobs") return list_jobs(a, c, term);
    if (name == "job") return show_job(a, c, term);
    if (name == "target") return targets(a, c, term);
    if (name == "cancel") return cancel(a, c, term);
    if (name == "shovey") return shovey_command(a, c, term);
    return operation(a, c, term);
}

}  // namespace exectl
