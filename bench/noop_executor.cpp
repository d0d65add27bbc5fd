// BENCH PLUGIN -- the "no-op executor" of the benchmarks, not for production.
//
// Why not the test executor (tests/plugins/test_executor.cpp)? Its target
// expansion globs every configured host (O(hosts) per request), and an async
// submit benchmark needs a fresh host per request: a job locks its hosts
// until a worker has run it, so a reused host is a 409 as soon as the queue
// backs up. Here a literal name is its own single target (O(1)) and a
// trailing-'*' pattern expands over the configured `hosts` by prefix, so the
// figure is exed's cost, not the plugin's.
//
// Config ([noop]): hosts = node1,node2 (for patterns), ping_delay_ms = 0
// (the follow benchmark delays the host event so followers are attached).
#include <exed/sdk.hpp>

#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

// Minimal JSON helpers: our inputs are exed's own compact JSON of strings.
std::string field(const std::string& json, const std::string& key) {
    auto at = json.find("\"" + key + "\":\"");
    if (at == std::string::npos) return "";
    at += key.size() + 4;
    return json.substr(at, json.find('"', at) - at);
}

std::vector<std::string> targets_of(const std::string& args) {
    std::vector<std::string> out;
    auto at = args.find("\"targets\":[");
    if (at == std::string::npos) return out;
    auto end = args.find(']', at);
    for (auto q = args.find('"', at + 11); q != std::string::npos && q < end;) {
        auto close = args.find('"', q + 1);
        out.push_back(args.substr(q + 1, close - q - 1));
        q = args.find('"', close + 1);
    }
    return out;
}

class NoopExecutor : public exed::Executor {
public:
    NoopExecutor(const exed::Host&, const std::string& config_json) {
        std::istringstream in(field(config_json, "hosts"));
        for (std::string h; std::getline(in, h, ',');)
            if (!h.empty()) hosts_.push_back(h);
        std::string delay = field(config_json, "ping_delay_ms");
        delay_ms_ = delay.empty() ? 0 : std::stoi(delay);
    }

    std::string targets(exed::Call&, const std::string& args) override {
        std::string p = field(args, "pattern");
        std::string out = "[";
        if (!p.empty() && p.back() == '*') {
            std::string prefix = p.substr(0, p.size() - 1);
            for (auto& h : hosts_)
                if (h.compare(0, prefix.size(), prefix) == 0)
                    out += (out.size() > 1 ? ",\"" : "\"") + h + "\"";
        } else if (!p.empty()) {
            out += "\"" + p + "\"";
        }
        return out + "]";
    }

    std::string ping(exed::Call& call, const std::string& args) override {
        for (int waited = 0; waited < delay_ms_; waited += 20) {
            call.check_cancelled();
            usleep(20000);
        }
        std::string result = "{";
        for (auto& h : targets_of(args)) {
            std::string body = "\"" + h + "\":{\"status\":0}";
            call.emit("{" + body + "}");
            result += (result.size() > 1 ? "," : "") + body;
        }
        return result + "}";
    }
    std::string facter(exed::Call& c, const std::string& a) override { return ping(c, a); }
    std::string service(exed::Call& c, const std::string& a) override { return ping(c, a); }
    std::string execute(exed::Call& c, const std::string& a) override { return ping(c, a); }
    std::string deploy(exed::Call& c, const std::string& a) override { return ping(c, a); }

private:
    std::vector<std::string> hosts_;
    int delay_ms_ = 0;
};

}  // namespace

EXED_EXECUTOR(NoopExecutor, "noop", "bench_noop_executor", "1.0.0")
