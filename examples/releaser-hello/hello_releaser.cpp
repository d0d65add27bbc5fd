// releaser-hello: a third-party release type ("apptype": "hello"). Like
// every releaser it runs nothing itself: it asks the configured executor
// (ansible, salt, ...) through the host API, so it works over any of them.
//
// release  -> execute `echo <appname> <revision>` on the targets
// rollback -> the same with "rollback"
// revision -> reports what `cat <root>/<appname>.rev` says on each host
#include <exed/sdk.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>

namespace {

using Poco::JSON::Object;

Object::Ptr parse(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

std::string dump(const Poco::Dynamic::Var& v) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(v, out);
    return out.str();
}

class HelloReleaser : public exed::Releaser {
public:
    HelloReleaser(const exed::Host&, const std::string&) {}

    std::string release(exed::Call& call, const std::string& args) override {
        return run(call, args, "release");
    }
    std::string rollback(exed::Call& call, const std::string& args) override {
        return run(call, args, "rollback");
    }
    std::string revision(exed::Call& call, const std::string& args) override {
        auto a = parse(args);
        // argv form: exact arguments, no shell on the target.
        Poco::JSON::Array argv;
        argv.add("cat");
        argv.add("/srv/" + a->getValue<std::string>("appname") + ".rev");
        auto result = execute(call, a->getArray("targets"), argv);
        // Turn each host's command result into {"status", "revision"}.
        Object out;
        for (const auto& [host, body] : *result) {
            auto r = body.extract<Object::Ptr>();
            Object entry;
            bool ok = r->optValue<int>("rtc", 1) == 0;
            entry.set("status", ok ? 0 : 2);
            entry.set("revision", ok ? r->getValue<std::string>("stdout") : "");
            out.set(host, entry);
        }
        return dump(out);
    }

    void check(exed::Call&, const std::string&, const std::string& args) override {
        auto opts = parse(args)->getObject("extra_opts");
        if (opts && opts->size() > 0) throw exed::BadInput("hello takes no extra_opts");
    }

private:
    std::string run(exed::Call& call, const std::string& args, const std::string& what) {
        auto a = parse(args);
        Poco::JSON::Array argv;
        argv.add("echo");
        argv.add(what);
        argv.add(a->getValue<std::string>("appname"));
        argv.add(a->optValue<std::string>("revision", ""));
        return dump(execute(call, a->getArray("targets"), argv));
    }

    // One executor call; its per-host events appear in this job's stream.
    static Object::Ptr execute(exed::Call& call, Poco::JSON::Array::Ptr targets,
                               const Poco::JSON::Array& argv) {
        Object req, inner;
        inner.set("targets", targets);
        inner.set("argv", argv);
        std::string cmd;
        for (size_t i = 0; i < argv.size(); ++i) cmd += (i ? " " : "") + argv.getElement<std::string>(i);
        inner.set("cmd", cmd);  // for executors that only take a command line
        req.set("op", "execute");
        req.set("args", inner);
        return parse(call.run_executor(dump(req)));
    }
};

}  // namespace

EXED_RELEASER(HelloReleaser, "hello", "hello_release", "1.0.0")
