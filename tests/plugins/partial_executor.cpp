// TEST PLUGIN — an SDK 1.1 executor built the way a family of plugins is:
// a shared base class implements targets and ping, the exported class adds
// execute, and nobody implements facter, service or deploy. With SDK 1.0
// this did not compile ("no matches converting function 'ping'"); with 1.1
// it loads, and the host answers "unsupported" for the missing ops.
#include <exed/sdk.hpp>

#ifdef EXED_EXPECT_ABI_MINOR  // built against tests/sdk-1.1: must really be 1.1
static_assert(EXED_ABI_MINOR == EXED_EXPECT_ABI_MINOR, "built against the wrong SDK headers");
#endif

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>

namespace {

std::string to_json(const Poco::Dynamic::Var& v) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(v, out);
    return out.str();
}

// Every host answers OK: ping and execute differ only in what they say.
std::string per_host(const std::string& args_json, const std::string& say) {
    auto args = Poco::JSON::Parser().parse(args_json).extract<Poco::JSON::Object::Ptr>();
    Poco::JSON::Object out;
    auto targets = args->getArray("targets");
    for (size_t i = 0; targets && i < targets->size(); ++i) {
        Poco::JSON::Object host;
        host.set(EXED_KEY_STATUS, int(EXED_HOST_OK));
        if (!say.empty()) host.set("stdout", say);
        out.set(targets->getElement<std::string>(i), host);
    }
    return to_json(out);
}

class FleetBase : public exed::Executor {
public:
    std::string targets(exed::Call&, const std::string& args_json) override {
        auto args = Poco::JSON::Parser().parse(args_json).extract<Poco::JSON::Object::Ptr>();
        std::string pattern = args->optValue<std::string>("pattern", "");
        Poco::JSON::Array out;
        for (const char* h : {"p1", "p2"})
            if (pattern == "*" || pattern == h) out.add(std::string(h));
        return to_json(out);
    }
    std::string ping(exed::Call&, const std::string& args_json) override {
        return per_host(args_json, "");
    }
};

class PartialExecutor : public FleetBase {
public:
    PartialExecutor(const exed::Host&, const std::string&) {}
    std::string execute(exed::Call&, const std::string& args_json) override {
        return per_host(args_json, "partial ran it");
    }
};

}  // namespace

EXED_EXECUTOR(PartialExecutor, "partial", "partial_executor", "1.1.0")
