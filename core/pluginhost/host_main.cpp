#include "pluginhost/host_main.hpp"

#include "app/logging.hpp"
#include "config.hpp"
#include "plugins/in_process_client.hpp"
#include "plugins/registry.hpp"
#include "plugins/run_executor.hpp"
#include "pluginhost/call_pool.hpp"
#include "pluginhost/frame.hpp"
#include "pluginhost/protocol.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <memory>
#include <string>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace exed::pluginhost {

namespace {

constexpr int kExitConfig = 78;  // EX_CONFIG, as exed itself

Poco::Logger& logger() { return Poco::Logger::get("exed.pluginhost"); }

// The process groups of every run in this host, for the SIGTERM handler:
// a fixed table of lock-free slots, since a handler may not take a mutex
// or walk a std::set another thread changes. 0 = free.
constexpr size_t kSlots = 4096;
std::atomic<pid_t> g_groups[kSlots];

void remember_group(pid_t pgid) {
    for (auto& slot : g_groups) {
        pid_t free = 0;
        if (slot.compare_exchange_strong(free, pgid)) return;
    }
    logger().warning(fmt::format("plugin host: more than {} process groups; group {} would outlive a "
                                 "SIGTERM of this host (exed still kills it on a crash)", kSlots, pgid));
}

void forget_group(pid_t pgid) {
    for (auto& slot : g_groups) {
        pid_t found = pgid;
        if (slot.compare_exchange_strong(found, 0)) return;
    }
}

// SIGTERM is the death signal asked for at fork (exed died, even of
// kill -9), or someone ending this host: either way nobody is left to end
// the commands its plugins started, and they must not run on after the
// job's lease frees its host locks (issue 23). Only async-signal-safe
// calls: kill() and _exit().
extern "C" void end_groups_and_exit(int) {
    for (auto& slot : g_groups) {
        pid_t g = slot.load();
        if (g > 1) ::kill(-g, SIGKILL);  // never kill(-1): every process we may signal
    }
    _exit(128 + SIGTERM);
}

// The hooks of one run inside the host: what the plugin does to the world
// goes back to exed as frames; cancel comes from exed; run_executor is
// served here, by the executor loaded next to the releaser.
class RemoteHooks : public plugins::CallHooks {
public:
    RemoteHooks(FrameWriter& out, plugins::ExecutorClient& client, int64_t id, int64_t deadline,
                std::string job)
        : out_(out), client_(client), id_(id), deadline_(deadline), job_(std::move(job)) {}

    void emit(const std::string& event_json) override {
        {
            // Back-pressure (protocol.hpp): wait while exed has a window's
            // worth of this run's events unhandled; not once exed is gone.
            std::unique_lock<std::mutex> lock(mutex_);
            credit_.wait(lock, [this] { return in_flight_ < kEmitWindow || closed_; });
            in_flight_ += event_json.size();
        }
        Poco::JSON::Object m;
        m.set("t", "emit");
        m.set("id", id_);
        m.set("e", event_json);
        out_.write(m);
    }
    bool cancelled() override { return cancelled_.load(); }
    void track_process(pid_t pgid) override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            groups_.insert(pgid);
            remember_group(pgid);
            if (cancelled_) kill(-pgid, SIGTERM);  // started after the cancel
        }
        send_pgid("track", pgid);
    }
    void untrack_process(pid_t pgid) override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            groups_.erase(pgid);
            forget_group(pgid);
        }
        send_pgid("untrack", pgid);
    }
    int run_executor(const std::string& request_json, std::string& out) override {
        return plugins::run_executor_request(client_, request_json, out, *this);
    }
    int64_t deadline() override { return deadline_; }
    std::string job_id() const override { return job_; }

    // exed handled `bytes` of this run's events.
    void credit(size_t bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        in_flight_ -= std::min(bytes, in_flight_);
        credit_.notify_all();
    }
    // exed closed the socket: nothing waits for credit any more.
    void close() {
        std::lock_guard<std::mutex> lock(mutex_);
        closed_ = true;
        credit_.notify_all();
    }

    // exed's cancel (or run_timeout): the flag first, then SIGTERM, so
    // an op whose command dies of it knows why (exed SIGKILLs what is
    // left after the grace period).
    void cancel() {
        std::lock_guard<std::mutex> lock(mutex_);
        cancelled_ = true;
        for (pid_t g : groups_) kill(-g, SIGTERM);
    }

private:
    void send_pgid(const char* type, pid_t pgid) {
        Poco::JSON::Object m;
        m.set("t", type);
        m.set("id", id_);
        m.set("pgid", int(pgid));
        out_.write(m);
    }

    FrameWriter& out_;
    plugins::ExecutorClient& client_;
    int64_t id_;
    int64_t deadline_;
    std::string job_;
    std::atomic<bool> cancelled_{false};
    std::mutex mutex_;
    std::condition_variable credit_;
    size_t in_flight_ = 0;  // event bytes sent, not yet credited
    bool closed_ = false;
    std::set<pid_t> groups_;
};

struct NoJobHooks : plugins::CallHooks {
    void emit(const std::string&) override {}
};

class Host {
public:
    Host(plugins::ExecutorClient& client, FrameWriter& out) : client_(client), out_(out) {}

    // Reads calls until the socket closes.
    void serve() {
        FrameReader reader(kHostFd);
        int64_t id = 0;
        std::string text;
        while (reader.next(id, text)) {
            auto message = parse_frame(text);
            if (!message) break;  // not our own exed
            std::string type = text_of(*message, "t");
            if (type == "cancel") {
                std::lock_guard<std::mutex> lock(mutex_);
                if (auto it = runs_.find(id); it != runs_.end()) it->second->cancel();
            } else if (type == "credit") {
                std::lock_guard<std::mutex> lock(mutex_);
                if (auto it = runs_.find(id); it != runs_.end())
                    it->second->credit(message->optValue<uint64_t>("bytes", 0));
            } else if (type == "prepare" || type == "run" || type == "health") {
                pool_.post([this, message, type, id] { call(*message, type, id); });
            } else {
                logger().warning("plugin host: unknown message '" + type + "' ignored");
            }
        }
        // exed is gone or stopping: the runs still going are cancelled.
        std::lock_guard<std::mutex> lock(mutex_);
        closed_ = true;
        for (auto& [id, hooks] : runs_) {
            hooks->close();
            hooks->cancel();
        }
    }

    CallPool& pool() { return pool_; }

private:
    void call(const Poco::JSON::Object& message, const std::string& type, int64_t id) {
        Poco::JSON::Object answer;
        std::vector<std::string> strings;
        if (type == "prepare") {
            answer = prepared_message(client_.prepare(prepare_request_of(message)), strings);
        } else if (type == "health") {
            answer = result_message(client_.health());
        } else {
            auto hooks = std::make_shared<RemoteHooks>(out_, client_, id,
                                                       message.optValue<int64_t>("deadline", 0),
                                                       text_of(message, "job"));
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (closed_) hooks->close();  // exed went away before the run began
                runs_[id] = hooks;
            }
            auto r = client_.run({text_of(message, "kind"), text_of(message, "type")},
                                 text_of(message, "op"), text_of(message, "doc"), *hooks);
            {
                std::lock_guard<std::mutex> lock(mutex_);
                runs_.erase(id);
            }
            answer = result_message(r);
        }
        answer.set("id", id);
        out_.write(answer, strings);
    }

    plugins::ExecutorClient& client_;
    FrameWriter& out_;
    CallPool pool_;
    std::mutex mutex_;
    bool closed_ = false;  // the socket to exed closed
    std::map<int64_t, std::shared_ptr<RemoteHooks>> runs_;
};

}  // namespace

int host_main(int argc, char** argv) {
    std::string conf;
    long parent = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--conf") == 0) conf = argv[i + 1];
        else if (std::strcmp(argv[i], "--parent") == 0) parent = std::atol(argv[i + 1]);
    }
    // Dies with its exed, ending its runs' process groups first: the death
    // signal asked for at fork (set again here for an exec by hand), and an
    // exed already gone before that.
    struct sigaction term {};
    term.sa_handler = end_groups_and_exit;
    sigemptyset(&term.sa_mask);
    sigaction(SIGTERM, &term, nullptr);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (parent <= 0 || getppid() != pid_t(parent) || conf.empty()) {
        std::cerr << "exed plugin-host: started by exed only (its socket is fd " << kHostFd << ")\n";
        return 64;  // EX_USAGE
    }
    // The socket must not leak into the commands plugins start: one of
    // them holding it would keep exed from seeing this process die.
    fcntl(kHostFd, F_SETFD, FD_CLOEXEC);
    // Ctrl-C in exed's terminal is exed's to handle; it closes our socket.
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    Settings settings;
    try {
        settings = load_settings(conf);
    } catch (const ConfigError& e) {
        std::cerr << "exed plugin-host: " << e.what() << "\n";
        return kExitConfig;
    }
    app::setup_logging(settings, fmt::format("plugin-host[{}] ", getpid()));
    logger().information(fmt::format("plugin host for exed pid {} loading plugins", parent));
    // Never destroyed before the end: call threads may still hold them.
    auto* registry = new plugins::Registry([&settings](const std::string& type) {
        return settings.section_json(type);
    });
    registry->load_dirs(settings.plugin_dirs);
    auto* client = new plugins::InProcessClient(*registry, settings.executor);
    auto* out = new FrameWriter(kHostFd);
    if (!out->write(hello_message(*registry))) return 0;  // exed went away meanwhile
    auto* host = new Host(*client, *out);
    host->serve();
    // exed closed the socket (it stops, or it died): end the calls in
    // flight, then let the plugins clean up (fini) and leave. Calls still
    // running after the wait are abandoned with the process.
    if (host->pool().drain(10)) {
        delete client;
        delete registry;
    }
    logger().information("plugin host: exed closed the socket; exiting");
    std::cout.flush();
    std::_Exit(0);  // detached call threads may still wait: no static destructors
}

}  // namespace exed::pluginhost
