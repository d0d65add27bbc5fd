// `exectl shovey ...`: the Shovey face (docs/shovey.md) from the command
// line. `run` creates a job and, unless --async, polls its document until
// it ends (Shovey has no event stream), then prints each node's outcome.
#include "exectl/commands.hpp"
#include "shovey/statuses.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/NumberParser.h>
#include <Poco/StringTokenizer.h>

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <set>
#include <thread>

namespace exectl {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

namespace ns = exed::shovey::node_status;
const std::set<std::string> kJobEnded(exed::shovey::job_status::final_list.begin(),
                                       exed::shovey::job_status::final_list.end());

void want_args(const Args& a, size_t min, size_t max, const std::string& usage) {
    size_t n = a.positional.size() - 1;  // after the subcommand
    if (n < min || n > max) throw UsageError("usage: exectl shovey " + usage);
}

Array::Ptr node_list(const std::string& csv) {
    Array::Ptr out = new Array;
    Poco::StringTokenizer names(csv, ",", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
    for (const auto& n : names) out->add(n);
    if (out->size() == 0) throw UsageError("NODES must name at least one node");
    return out;
}

// Prints an answer as JSON when piped, else via `human`.
int show(const Answer& answer, const Term& term, const std::function<void(const Poco::Dynamic::Var&)>& human) {
    if (!term.human) std::cout << answer.body << "\n";
    else human(answer.json());
    return 0;
}

// 0 when the job completed and every node succeeded, else 1.
int outcome(const Object::Ptr& job) {
    if (job->optValue<std::string>("status", "") != "complete") return 1;
    auto nodes = job->getObject("nodes");
    if (!nodes) return 1;
    for (const auto& [status, names] : *nodes)
        if (status != "succeeded" && names.isArray() && names.extract<Array::Ptr>()->size() > 0) return 1;
    return 0;
}

void print_job(const Object::Ptr& job, const Term& term) {
    std::cout << "job      " << job->optValue<std::string>("id", "") << "\ncommand  "
              << job->optValue<std::string>("command", "") << "\nstatus   " << job->optValue<std::string>("status", "")
              << "\n";
    if (auto nodes = job->getObject("nodes"))
        for (const auto& [status, names] : *nodes) {
            auto list = names.extract<Array::Ptr>();
            if (list->size() == 0) continue;
            std::string joined;
            for (size_t i = 0; i < list->size(); ++i) joined += (i ? "," : "") + list->getElement<std::string>(i);
            std::string colour = status == ns::succeeded ? "32" : !ns::terminal(status) ? "33" : "31";
            std::cout << term.paint(colour, fmt::format("{:<9}", status)) << joined << "\n";
        }
}

int run(const Args& a, Client& c, const Term& term) {
    want_args(a, 2, 2, "run COMMAND NODES");
    Object body;
    body.set("command", a.positional[1]);
    body.set("nodes", node_list(a.positional[2]));
    if (a.has("quorum")) {
        int count = 0;
        if (Poco::NumberParser::tryParse(a.get("quorum"), count)) body.set("quorum", count);
        else body.set("quorum", a.get("quorum"));
    }
    if (a.has("run-timeout")) {
        int s = 0;
        if (!Poco::NumberParser::tryParse(a.get("run-timeout"), s) || s <= 0)
            throw UsageError("--run-timeout must be a positive number of seconds");
        body.set("run_timeout", s);
    }
    auto created = object_of(expect(c.call("POST", "/shovey/jobs", to_json(body)), {201}));
    std::string id = created->optValue<std::string>("id", "");
    if (a.has("async")) {
        if (!term.human) std::cout << to_json(created) << "\n";
        else std::cout << id << "\n";
        return 0;
    }
    // Poll the document: a Shovey job has no event stream. 0.2 s, then up to 2 s apart.
    auto pause = std::chrono::milliseconds(200);
    for (;;) {
        auto job = object_of(expect(c.call("GET", "/shovey/jobs/" + enc(id)), {200}));
        if (kJobEnded.count(job->optValue<std::string>("status", ""))) {
            if (!term.human) std::cout << to_json(job) << "\n";
            else print_job(job, term);
            return outcome(job);
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(2000));
    }
}

int list(const Args& a, Client& c, const Term& term) {
    want_args(a, 0, 0, "jobs [--limit N]");
    int limit = 20;
    if (a.has("limit") && !Poco::NumberParser::tryParse(a.get("limit"), limit))
        throw UsageError("--limit must be a number");
    auto answer = expect(c.call("GET", "/shovey/jobs?limit=" + std::to_string(limit)), {200});
    return show(answer, term, [](const Poco::Dynamic::Var& v) {
        auto ids = v.extract<Array::Ptr>();
        for (size_t i = 0; i < ids->size(); ++i) std::cout << ids->getElement<std::string>(i) << "\n";
    });
}

int job(const Args& a, Client& c, const Term& term) {
    want_args(a, 1, 2, "job ID [NODE]");
    std::string path = "/shovey/jobs/" + enc(a.positional[1]);
    if (a.positional.size() == 3) path += "/" + enc(a.positional[2]);
    auto answer = expect(c.call("GET", path), {200});
    return show(answer, term, [&](const Poco::Dynamic::Var& v) {
        auto o = v.extract<Object::Ptr>();
        if (a.positional.size() == 2) return print_job(o, term);
        for (const auto& [k, value] : *o) std::cout << fmt::format("{:<12} {}\n", k, value.isString() ? value.toString() : to_json(value));
    });
}

int cancel(const Args& a, Client& c, const Term& term) {
    want_args(a, 1, 2, "cancel ID [NODES]");
    Object body;
    body.set("run_id", a.positional[1]);
    if (a.positional.size() == 3) body.set("nodes", node_list(a.positional[2]));
    auto answer = expect(c.call("PUT", "/shovey/jobs/cancel", to_json(body)), {200});
    return show(answer, term, [&](const Poco::Dynamic::Var& v) { print_job(v.extract<Object::Ptr>(), term); });
}

int output(const Args& a, Client& c, const Term& term) {
    want_args(a, 2, 2, "output ID NODE [--output-type stdout|stderr|both]");
    std::string type = a.get("output-type", "stdout");
    auto answer = expect(c.call("GET", "/shovey/stream/" + enc(a.positional[1]) + "/" + enc(a.positional[2]) +
                                           "?output_type=" + enc(type)),
                         {200});
    return show(answer, term, [](const Poco::Dynamic::Var& v) {
        std::cout << v.extract<Object::Ptr>()->optValue<std::string>("output", "");
    });
}

int nodes(const Args& a, Client& c, const Term& term) {
    want_args(a, 0, 1, "nodes [NODE]");
    std::string path = a.positional.size() == 2 ? "/status/node/" + enc(a.positional[1]) + "/latest" : "/status/all/nodes";
    auto answer = expect(c.call("GET", path), {200});
    return show(answer, term, [&](const Poco::Dynamic::Var& v) {
        auto print = [&](const Object::Ptr& n) {
            std::string status = n->optValue<std::string>("status", "");
            std::cout << fmt::format("{:<24} ", n->optValue<std::string>("node_name", ""))
                      << term.paint(status == "up" ? "32" : "31", status) << "  "
                      << n->optValue<std::string>("updated_at", "") << "\n";
        };
        if (v.type() == typeid(Object::Ptr)) return print(v.extract<Object::Ptr>());
        auto all = v.extract<Array::Ptr>();
        for (size_t i = 0; i < all->size(); ++i) print(all->getObject(unsigned(i)));
    });
}

}  // namespace

int shovey_command(const Args& a, Client& c, const Term& term) {
    const std::string& sub = a.positional[0];
    if (sub == "run") return run(a, c, term);
    if (sub == "jobs") return list(a, c, term);
    if (sub == "job") return job(a, c, term);
    if (sub == "cancel") return cancel(a, c, term);
    if (sub == "output") return output(a, c, term);
    if (sub == "nodes") return nodes(a, c, term);
    throw UsageError("unknown shovey command '" + sub + "' (run, jobs, job, cancel, output, nodes)");
}

}  // namespace exectl
