// executor-hello: the smallest useful exed executor. It runs nothing: every
// operation answers for each target as if it had, which makes it a template
// to copy and a way to try exed's API without any real hosts.
//
// Config section [hello]: hosts = comma-separated names it knows.
#include <exed/sdk.hpp>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/StringTokenizer.h>

#include <sstream>
#include <vector>

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

class HelloExecutor : public exed::Executor {
public:
    HelloExecutor(const exed::Host& host, const std::string& config_json) {
        std::string hosts = parse(config_json)->optValue<std::string>("hosts", "hello1,hello2");
        Poco::StringTokenizer t(hosts, ",", Poco::StringTokenizer::TOK_TRIM |
                                                Poco::StringTokenizer::TOK_IGNORE_EMPTY);
        hosts_.assign(t.begin(), t.end());
        host.log(EXED_LOG_INFO, "hello executor knows " + std::to_string(hosts_.size()) + " host(s)");
    }

    // Patterns: "*" or an exact name (a real executor does globs and groups).
    std::string targets(exed::Call&, const std::string& args) override {
        std::string pattern = parse(args)->optValue<std::string>("pattern", "*");
        Poco::JSON::Array out;
        for (auto& h : hosts_)
            if (pattern == "*" || pattern == h) out.add(h);
        return dump(out);
    }

    std::string ping(exed::Call& call, const std::string& args) override {
        return each_host(call, args, [](const std::string&, Object& r) { r.set("status", 0); });
    }

    std::string facter(exed::Call& call, const std::string& args) override {
        return each_host(call, args, [](const std::string& h, Object& r) {
            Object facts;
            facts.set("hostname", h);
            r.set("state", 0);
            r.set("facter", facts);
        });
    }

    std::string service(exed::Call& call, const std::string& args) override {
        return each_host(call, args, [](const std::string&, Object& r) { r.set("status", 0); });
    }

    std::string execute(exed::Call& call, const std::string& args) override {
        std::string cmd = parse(args)->optValue<std::string>("cmd", "");
        return each_host(call, args, [&](const std::string& h, Object& r) {
            r.set("status", 4);
            r.set("rtc", 0);
            r.set("stdout", "hello from " + h + ": " + cmd + "\n");
            r.set("stderr", "");
        });
    }

    std::string deploy(exed::Call& call, const std::string& args) override {
        return each_host(call, args, [](const std::string&, Object& r) { r.set("status", 0); });
    }

    // Refuse bad input before a job exists: this becomes HTTP 400.
    void check(exed::Call&, const std::string& op, const std::string& args) override {
        if (op == "execute" && parse(args)->optValue<std::string>("cmd", "").empty())
            throw exed::BadInput("cmd is required");
    }

private:
    // Emits one event per host as it is done, and returns the result map.
    template <class Fn>
    std::string each_host(exed::Call& call, const std::string& args, Fn fill) {
        Object result;
        auto targets = parse(args)->getArray("targets");
        for (size_t i = 0; targets && i < targets->size(); ++i) {
            call.check_cancelled();  // cancel and run_timeout land here
            std::string h = targets->getElement<std::string>(i);
            Object r;
            fill(h, r);
            Object event;
            event.set(h, r);
            call.emit(dump(event));
            result.set(h, r);
        }
        return dump(result);
    }

    std::vector<std::string> hosts_;
};

}  // namespace

EXED_EXECUTOR(HelloExecutor, "hello", "hello_executor", "1.0.0")
