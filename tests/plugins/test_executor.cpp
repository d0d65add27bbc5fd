// TEST PLUGIN — an executor for exed's own tests, not for production.
//
// It drives the job manager without ansible: hosts come from its config
// (`hosts`, `down`), ping/facter/service answer at once, and execute really
// runs the command (argv split on spaces, no shell) once per host in its own
// process group, so cancel and run_timeout are tested against real processes.
#include <exed/sdk.hpp>

#ifdef EXED_EXPECT_ABI_MINOR  // the SDK 1.0 build (tests/sdk-1.0) must really be 1.0
static_assert(EXED_ABI_MINOR == EXED_EXPECT_ABI_MINOR, "built against the wrong SDK headers");
#endif

#include <Poco/Glob.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/StringTokenizer.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>
#include <vector>

#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using Poco::JSON::Object;

std::string to_json(const Poco::Dynamic::Var& v) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(v, out);
    return out.str();
}

Object::Ptr parse(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

std::vector<std::string> split(const std::string& s, const char* sep) {
    Poco::StringTokenizer t(s, sep, Poco::StringTokenizer::TOK_IGNORE_EMPTY |
                                        Poco::StringTokenizer::TOK_TRIM);
    return {t.begin(), t.end()};
}

std::vector<std::string> targets_of(const Object::Ptr& args) {
    std::vector<std::string> out;
    auto arr = args->getArray("targets");
    if (arr)
        for (size_t i = 0; i < arr->size(); ++i) out.push_back(arr->getElement<std::string>(i));
    return out;
}

// Runs argv in a new process group; returns its exit code (128+sig if killed).
int run_tracked(exed::Call& call, const std::vector<std::string>& argv, std::string& output) {
    int pipefd[2];
    // Close-on-exec: the child keeps only its stdout/stderr copies, so the
    // output ends when they close (a process it leaves behind may live on).
    if (pipe2(pipefd, O_CLOEXEC) != 0) throw exed::Error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);  // stderr into the same output
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        output = "cannot start " + argv[0];
        return 127;
    }
    call.track_process(pid);
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0) output.append(buf, size_t(n));
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    call.untrack_process(pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class TestExecutor : public exed::Executor {
public:
#ifdef EXED_TEST_SECRET_CMD  // SDK 1.2: exed shows this argument as "***"
    static constexpr const char* secret_args[] = {"cmd", nullptr};
#endif
    TestExecutor(const exed::Host&, const std::string& config_json) {
        auto cfg = parse(config_json);
        hosts_ = split(cfg->optValue<std::string>("hosts", "node1,node2,node3"), ",");
        for (auto& h : split(cfg->optValue<std::string>("down", ""), ",")) down_.insert(h);
        ping_delay_ms_ = std::stoi(cfg->optValue<std::string>("ping_delay_ms", "0"));
        // A check that refuses every ping with this message (config
        // refuse_ping): shows which calls go through the plugin's check.
        refuse_ping_ = cfg->optValue<std::string>("refuse_ping", "");
        // Hosts whose every op crashes the process the plugin runs in (a
        // segfault, as a buggy plugin would): the plugin host tests.
        for (auto& h : split(cfg->optValue<std::string>("crash_hosts", ""), ",")) {
            crash_.insert(h);
            hosts_.push_back(h);
        }
        if (cfg->optValue<std::string>("fail_init", "") == "1")
            throw exed::Error("fail_init is set");
        // A slow init (config init_delay_ms): the readiness tests see exed
        // "starting" while its plugin host loads the plugins.
        usleep(useconds_t(std::stoi(cfg->optValue<std::string>("init_delay_ms", "0"))) * 1000);
    }

    void check(exed::Call&, const std::string& op, const std::string& args_json) override {
        auto args = parse(args_json);
        if (op == "ping" && !refuse_ping_.empty()) throw exed::BadInput(refuse_ping_);
        if (op == "execute" && args->optValue<std::string>("cmd", "").empty() && !args->has("argv"))
            throw exed::BadInput("cmd is required");
        if (op == "deploy" && args->optValue<std::string>("role", "") == "missing")
            throw exed::NotFound("no such role: missing");
    }

    std::string targets(exed::Call&, const std::string& args_json) override {
        std::string pattern = parse(args_json)->optValue<std::string>("pattern", "*");
        if (!crash_.empty() && pattern == "crash-expand") crash();  // a crash in target expansion
        Poco::JSON::Array out;
        for (auto& p : split(pattern, ",:")) {
            Poco::Glob glob(p);
            for (auto& h : hosts_)
                if (glob.match(h)) out.add(h);
        }
        return to_json(out);
    }

    std::string ping(exed::Call& call, const std::string& args) override {
        // A slow ping (config ping_delay_ms) lets tests kill a worker mid-job.
        for (int waited = 0; waited < ping_delay_ms_; waited += 50) {
            call.check_cancelled();
            usleep(50000);
        }
        return per_host(call, args, [](const std::string&) {
            Object::Ptr r = new Object;
            r->set("status", 0);
            return r;
        });
    }

    std::string facter(exed::Call& call, const std::string& args) override {
        return per_host(call, args, [](const std::string& h) {
            Object::Ptr facts = new Object;
            facts->set("hostname", h);
            Object::Ptr r = new Object;
            r->set("state", 0);
            r->set("facter", facts);
            return r;
        });
    }

    std::string service(exed::Call& call, const std::string& args) override {
        return per_host(call, args, [](const std::string&) {
            Object::Ptr r = new Object;
            r->set("status", 4);
            return r;
        });
    }

    std::string execute(exed::Call& call, const std::string& args_json) override {
        auto args = parse(args_json);
        std::vector<std::string> argv;
        if (auto exact = args->getArray("argv")) {  // exact argv, as releasers send it
            for (size_t i = 0; i < exact->size(); ++i) argv.push_back(exact->getElement<std::string>(i));
        } else {
            argv = split(args->getValue<std::string>("cmd"), " ");
        }
        return per_host(call, args_json, [&](const std::string&) {
            std::string out;
            int rtc = run_tracked(call, argv, out);
            call.check_cancelled();
            Object::Ptr r = new Object;
            r->set("status", rtc == 0 ? 4 : 2);
            r->set("rtc", rtc);
            r->set("stdout", out);
            r->set("stderr", "");
            return r;
        });
    }

    // extra_vars {"flood_events": N, "flood_bytes": B}: N events of B bytes
    // per host, as fast as emit returns (the plugin host's back-pressure test).
    std::string deploy(exed::Call& call, const std::string& args_json) override {
        auto args = parse(args_json);
        if (auto vars = args->getObject("extra_vars")) {
            int n = vars->optValue<int>("flood_events", 0);
            std::string filler(size_t(std::max(0, vars->optValue<int>("flood_bytes", 0))), 'x');
            for (auto& h : targets_of(args))
                for (int i = 0; i < n; ++i) {
                    Object::Ptr ev = new Object, body = new Object;
                    body->set("name", std::string("flood"));
                    body->set("n", i);
                    body->set("data", filler);
                    ev->set(h, body);
                    call.emit(to_json(ev));
                }
        }
        for (auto& h : targets_of(args)) {
            for (const char* task : {"install", "configure"}) {
                Object::Ptr ev = new Object, body = new Object;
                body->set("status", 4);
                body->set("name", std::string(task));
                ev->set(h, body);
                call.emit(to_json(ev));
            }
        }
        return per_host(call, args_json, [](const std::string&) {
            Object::Ptr r = new Object;
            r->set("status", 4);
            return r;
        });
    }

private:
    template <class Fn>
    std::string per_host(exed::Call& call, const std::string& args_json, Fn fn) {
        Object result;
        for (auto& h : targets_of(parse(args_json))) {
            call.check_cancelled();
            Object::Ptr r;
            if (crash_.count(h)) crash();
            if (down_.count(h)) {
                r = new Object;
                r->set("status", 3);
                r->set("error", "host is down (test executor)");
            } else {
                r = fn(h);
            }
            Object ev;
            ev.set(h, r);
            call.emit(to_json(ev));
            result.set(h, r);
        }
        return to_json(result);
    }

    [[noreturn]] static void crash() {
        raise(SIGSEGV);
        abort();
    }

    std::vector<std::string> hosts_;
    std::set<std::string> down_, crash_;
    int ping_delay_ms_ = 0;
    std::string refuse_ping_;
};

}  // namespace

EXED_EXECUTOR(TestExecutor, "test", "test_executor", "1.0.0")
