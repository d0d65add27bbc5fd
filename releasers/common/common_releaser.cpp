// The "common" release type: git checkouts under <root>/<app>/releases/,
// an atomically switched `current` symlink, keep-N pruning, rollback, the
// live revision — on every target, through the configured executor (it
// never runs a command itself, so it works over ansible and salt alike).
//
// Config [common]: root (default /srv/apps), keep (default 5).
#include "release_options.hpp"
#include "release_scripts.hpp"

#include <exed/sdk.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/NumberParser.h>
#include <Poco/StringTokenizer.h>

#include <sstream>

namespace exed::common {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr parse(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

std::string dump(const Poco::Dynamic::Var& v) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(v, out);
    return out.str();
}

Array to_array(const std::vector<std::string>& v) {
    Array a;
    for (auto& s : v) a.add(s);
    return a;
}

// The last "EXED-RESULT <revision> <commit>" line of a script's stdout.
bool parse_marker(const std::string& out, std::string& rev, std::string& commit) {
    auto at = out.rfind("EXED-RESULT ");
    if (at == std::string::npos) return false;
    std::istringstream line(out.substr(at + 12));
    line >> rev >> commit;
    return !rev.empty();
}

std::string last_line(const std::string& s) {
    std::string t = s;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    auto nl = t.rfind('\n');
    return nl == std::string::npos ? t : t.substr(nl + 1);
}

class CommonReleaser : public exed::Releaser {
public:
    CommonReleaser(const exed::Host&, const std::string& config_json) {
        auto cfg = parse(config_json);
        defaults_.root = cfg->optValue<std::string>("root", defaults_.root);
        int keep = defaults_.keep;
        if (cfg->has("keep") && (!Poco::NumberParser::tryParse(cfg->getValue<std::string>("keep"), keep) || keep < 1))
            throw exed::Error("[common] keep must be a positive integer");
        defaults_.keep = keep;
    }

    void check(exed::Call&, const std::string& op, const std::string& args) override {
        parse_request(op, parse(args), defaults_);
    }

    std::string release(exed::Call& call, const std::string& args) override {
        auto r = parse_request(EXED_OP_RELEASE, parse(args), defaults_);
        return dump(in_batches(call, r, kRelease, {r.revision, r.giturl, std::to_string(r.keep)}, EXED_OP_RELEASE));
    }

    std::string rollback(exed::Call& call, const std::string& args) override {
        auto r = parse_request(EXED_OP_ROLLBACK, parse(args), defaults_);
        return dump(in_batches(call, r, kRollback, {r.revision}, EXED_OP_ROLLBACK));
    }

    std::string revision(exed::Call& call, const std::string& args) override {
        auto r = parse_request(EXED_OP_REVISION, parse(args), defaults_);
        Object out;
        auto results = run_script(call, r.targets, r, kRevision, {});
        for (const auto& [host, body] : *results) {
            auto res = body.extract<Object::Ptr>();
            std::string rev, commit;
            Object::Ptr entry = new Object;
            if (res->optValue<int>("rtc", -1) == 0 && parse_marker(res->optValue<std::string>("stdout", ""), rev, commit)) {
                entry->set("status", 0);
                if (rev == "-") {
                    entry->set("revision", Poco::Dynamic::Var());  // nothing is live
                } else {
                    entry->set("revision", rev);
                    entry->set("commit", commit);
                }
            } else {
                fail_entry(*entry, res);
            }
            out.set(host, entry);
        }
        return dump(out);
    }

private:
    // Runs one script on `hosts` via the executor; returns its per-host map.
    Object::Ptr run_script(exed::Call& call, const std::vector<std::string>& hosts,
                           const ReleaseRequest& r, const char* script,
                           const std::vector<std::string>& extra) {
        Array argv;
        argv.add("sh");
        argv.add("-c");
        argv.add(std::string(kPrelude) + script);
        argv.add("exed-release");  // $0
        argv.add(r.root);
        argv.add(r.appname);
        for (auto& e : extra) argv.add(e);
        Object args, req;
        args.set("targets", to_array(hosts));
        args.set("argv", argv);
        req.set("op", EXED_OP_EXECUTE);
        req.set("args", args);
        return parse(call.run_executor(dump(req)));
    }

    static void fail_entry(Object& entry, const Object::Ptr& res) {
        int st = res->optValue<int>("status", 2);
        entry.set("status", st == 3 ? 3 : 2);
        std::string why = res->optValue<std::string>("stderr", "");
        if (why.empty()) why = res->optValue<std::string>("error", "");
        if (why.empty()) why = res->optValue<std::string>("stdout", "");
        entry.set("error", last_line(why));
    }

    // Rolling: `concurrency` hosts at a time; a failed batch stops the rest.
    Object in_batches(exed::Call& call, const ReleaseRequest& r, const char* script,
                      const std::vector<std::string>& extra, const std::string& what) {
        Object out;
        size_t step = r.concurrency > 0 ? size_t(r.concurrency) : r.targets.size();
        bool stopped = false;
        for (size_t i = 0; i < r.targets.size(); i += step) {
            std::vector<std::string> batch(r.targets.begin() + long(i),
                                           r.targets.begin() + long(std::min(i + step, r.targets.size())));
            if (stopped) {
                for (auto& h : batch) {
                    Object::Ptr entry = new Object;
                    entry->set("status", 1);  // Skiped
                    entry->set("error", "not attempted: an earlier batch failed");
                    out.set(h, entry);
                }
                continue;
            }
            call.check_cancelled();
            auto results = run_script(call, batch, r, script, extra);
            std::vector<std::string> switched;
            for (auto& h : batch) {
                Object::Ptr entry = new Object;
                auto res = results->has(h) ? results->getObject(h) : Object::Ptr(new Object);
                std::string rev, commit;
                if (res->optValue<int>("rtc", -1) == 0 && parse_marker(res->optValue<std::string>("stdout", ""), rev, commit)) {
                    entry->set("status", 4);  // Changed: `current` was switched
                    entry->set("revision", rev);
                    entry->set("commit", commit);
                    switched.push_back(h);
                } else {
                    if (!results->has(h)) res->set("error", "no result from the executor");
                    fail_entry(*entry, res);
                }
                out.set(h, entry);
            }
            if (!switched.empty() && r.graceful_reload) reload(call, r, switched, out);
            for (auto& h : batch) {
                Object ev;
                Object::Ptr body = new Object(*out.getObject(h));
                body->set("name", what);
                ev.set(h, body);
                call.emit(dump(ev));
                int st = out.getObject(h)->getValue<int>("status");
                if (st == 2 || st == 3) stopped = true;
            }
        }
        return out;
    }

    // After the switch: reload the service gracefully, or run reload_cmd.
    void reload(exed::Call& call, const ReleaseRequest& r, const std::vector<std::string>& hosts,
                Object& out) {
        Object args, req;
        args.set("targets", to_array(hosts));
        if (!r.service.empty()) {
            args.set("name", r.service);
            args.set("state", int(EXED_SERVICE_RESTARTED));
            args.set("graceful", true);
            req.set("op", EXED_OP_SERVICE);
        } else {
            args.set("cmd", r.reload_cmd);
            req.set("op", EXED_OP_EXECUTE);
        }
        req.set("args", args);
        Object::Ptr results;
        try {
            results = parse(call.run_executor(dump(req)));
        } catch (const exed::Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            results = new Object;
            for (auto& h : hosts) {
                Object::Ptr failed = new Object;
                failed->set("status", 2);
                failed->set("error", e.what());
                results->set(h, failed);
            }
        }
        for (auto& h : hosts) {
            auto res = results->has(h) ? results->getObject(h) : Object::Ptr(new Object);
            int st = res->optValue<int>("status", 2);
            if (st == 2 || st == 3) {
                auto entry = out.getObject(h);
                Object failed;
                fail_entry(failed, res);
                entry->set("status", failed.getValue<int>("status"));
                entry->set("error", "switched, but the reload failed: " + failed.getValue<std::string>("error"));
            }
        }
    }

    Defaults defaults_;
};

}  // namespace
}  // namespace exed::common

EXED_RELEASER(exed::common::CommonReleaser, "common", "common_release", "1.0.0")
