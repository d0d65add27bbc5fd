#include "app/exed_app.hpp"

#include "app/logging.hpp"
#include "app/node_command.hpp"
#include "app/node_setup.hpp"
#include "app/sd_notify.hpp"
#include "app/security_setup.hpp"
#include "app/token_command.hpp"
#include "http/security/security.hpp"
#include "config.hpp"
#include "http/server.hpp"
#include "jobs/queue.hpp"
#include "jobs/signature.hpp"
#include "metrics/agent_gauge.hpp"
#include "operate/job_service.hpp"
#include "operate/read_only_call.hpp"
#include "operate/submitter.hpp"
#include "pluginhost/make_client.hpp"
#include "redis/embedded.hpp"
#include "runner/runner.hpp"
#include "shovey/face.hpp"

#include <Poco/Environment.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/Process.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace exed::app {

using Poco::Util::Option;

namespace {

constexpr int kExitConfig = 78;    // EX_CONFIG
constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE

Poco::Logger& exed_log() { return Poco::Logger::get("exed"); }

// The pid file, locked (flock) for exed's whole life: a file left by an
// exed that was killed (kill -9) is unlocked, so it is simply replaced; one
// still locked belongs to a live exed, and this one refuses to start.
// Removed when exed leaves serve(), however it leaves.
struct PidFile {
    std::string path;
    int fd = -1;
    std::string error;  // set when another exed holds it
    explicit PidFile(std::string p) : path(std::move(p)) {
        if (path.empty()) return;
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return;  // unwritable: as before, run without one
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            std::ifstream in(path);
            std::string other;
            std::getline(in, other);
            error = fmt::format("another exed (pid {}) is running with pid file {}", other, path);
            ::close(fd);
            fd = -1;
            path.clear();
            return;
        }
        std::string text = std::to_string(Poco::Process::id()) + "\n";
        if (ftruncate(fd, 0) != 0 || ::write(fd, text.data(), text.size()) != ssize_t(text.size()))
            exed_log().warning("cannot write the pid file " + path);
    }
    ~PidFile() {
        if (!path.empty()) std::remove(path.c_str());
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::string& ExedApp::start_dir() {
    static std::string dir;
    return dir;
}

void ExedApp::defineOptions(Poco::Util::OptionSet& options) {
    ServerApplication::defineOptions(options);  // --daemon, --pidfile, --umask
    options.addOption(Option("help", "h", "show usage and exit"));
    options.addOption(Option("version", "v", "show version and exit"));
    options.addOption(Option("conf", "c", "path to config file (default: ./exe.conf)")
                          .argument("file"));
    options.addOption(Option("exe-conf", "", "config file of `exed worker` (default: --conf)")
                          .argument("file"));
    options.addOption(Option("scopes", "", "exed token: comma list of read,run,deploy,release,admin,agent")
                          .argument("list"));
    options.addOption(Option("targets", "", "exed token: comma list of target patterns ('*' = all)")
                          .argument("patterns"));
}

void ExedApp::handleOption(const std::string& name, const std::string& value) {
    ServerApplication::handleOption(name, value);
    if (name == "help") {
        print_help();
        stop_early_ = true;
        stopOptionsProcessing();
    } else if (name == "version") {
        std::cout << "exed " << EXED_VERSION << " (plugin ABI " << EXED_ABI_MAJOR << "."
                  << EXED_ABI_MINOR << ")\n";
        stop_early_ = true;
        stopOptionsProcessing();
    } else if (name == "conf") {
        conf_ = value;
    } else if (name == "exe-conf") {
        exe_conf_ = value;
    } else if (name == "scopes") {
        token_scopes_ = value;
    } else if (name == "targets") {
        token_targets_ = value;
    }
}

void ExedApp::print_help() {
    Poco::Util::HelpFormatter help(options());
    help.setCommand("exed");
    help.setUsage("[worker] [-c exe.conf] [-d] [--exe-conf exe.conf]");
    help.setHeader(
        "Remote execution daemon: REST API over Ansible/Salt executors with durable jobs in "
        "Redis.\n  exed              serve the API (with in-process workers)\n"
        "  exed worker       run jobs only, against the redis_url of --exe-conf\n"
        "  exed token NAME --scopes read,run --targets 'web*'   make an API token\n"
        "  exed node list|accept|reject|delete [NAME]   agent node keys (enrolment)\n"
        "  -d, --daemon      run in the background");
    help.format(std::cout);
}

int ExedApp::main(const std::vector<std::string>& args) {
    if (stop_early_) return EXIT_OK;
    if (!args.empty() && args[0] == "token") {
        if (args.size() != 2 || token_scopes_.empty() || token_targets_.empty()) {
            std::cerr << "usage: exed token NAME --scopes read,run,... --targets 'pattern,...'\n";
            return EXIT_USAGE;
        }
        return token_command(args[1], token_scopes_, token_targets_);
    }
    if (!args.empty() && args[0] == "node") return node_command(args, conf_);
    bool worker = !args.empty() && args[0] == "worker";
    if (!args.empty() && !worker) {
        std::cerr << "exed: unknown command '" << args[0] << "' (try --help)\n";
        return EXIT_USAGE;
    }
    if (config().getBool("application.runAsDaemon", false) && !start_dir().empty())
        if (chdir(start_dir().c_str()) != 0) return EXIT_CANTCREAT;  // relative paths keep their meaning
    return serve(worker);
}

// What both faces (the API, `exed worker`) run on, made in dependency
// order and destroyed in reverse: the runner stops before the store, the
// plugins and Redis it uses.
struct ExedApp::Core {
    // `embedded`: Redis is exed's own, in run_dir.
    Core(Settings& s, const redis::Url& url, bool embedded)
        : settings(s),
          pool(url, size_t(s.http_threads + s.concurrency + 8)),
          // Before the plugins: the agent executor asks it from its first connection.
          node_host(registry_host(s, pool, embedded)),
          registry([&s](const std::string& type) { return s.section_json(type); }),
          // Starts the plugin host, which loads the plugins in the background
          // (in_process: loads them here); become_ready() waits for them.
          client_ptr(pluginhost::make_executor_client(s, registry)),
          client(*client_ptr),
          store(pool, s.job_ttl),
          locks(pool),
          queue(pool),
          consumer(fmt::format("{}-{}", Poco::Environment::nodeName(), Poco::Process::id())),
          runner(s, client, store, locks, queue, queued, consumer) {}

    // Readiness (issue 23): the API listens at once and answers "starting"
    // (GET /health 503, everything else 503) until the plugins are loaded;
    // then workers start, what plugins mark secret is masked, and systemd
    // hears READY=1. A host that never says hello: serve anyway after 60 s,
    // as before (operations answer 503 "not loaded").
    void become_ready(http::security::Security* security) {
        if (!client.wait_ready(std::chrono::seconds(60)))
            exed_log().error("the plugin host did not report its plugins within 60 s");
        if (!client.available(client.executor()))
            exed_log().error(fmt::format("executor plugin '{}' is not loaded: operations will answer 503",
                                         settings.executor));
        // What plugins mark secret (SDK 1.2) is masked like [api] secret_args.
        if (security)
            for (auto& info : registry.list()) security->add_secret_args(info.secret_args);
        runner.start(settings.concurrency);
        ready = true;
        exed_log().information("exed is ready: plugins loaded, serving");
        sd_notify("READY=1\nSTATUS=ready: plugins loaded, serving");
    }

    static std::unique_ptr<NodeRegistryHost> registry_host(const Settings& s, redis::Pool& pool, bool embedded) {
        if (embedded) pool.set_data_dir(s.run_dir);  // its errors then name the disk
        return node_registry_host(s, &pool, true);
    }

    Settings& settings;
    redis::Pool pool;
    std::unique_ptr<NodeRegistryHost> node_host;
    plugins::Registry registry;
    std::unique_ptr<plugins::ExecutorClient> client_ptr;
    plugins::ExecutorClient& client;
    jobs::Store store;
    jobs::Locks locks;
    jobs::Queue queue;
    std::string consumer;
    jobs::QueuedLeases queued;
    runner::WorkerPool runner;
    std::atomic<bool> ready{false};
};

namespace {

// serve()'s configuration: the settings, checked, with everything they
// name that must be right before anything starts (exit code on failure).
struct Startup {
    Settings settings;
    shovey::Config shovey;
    redis::Url url;
    http::security::SecuritySettings security;
};

int load_startup(const std::string& path, bool worker_only, Startup& s) {
    try {
        s.settings = load_settings(path);
        s.shovey = shovey::load_config(s.settings);
    } catch (const ConfigError& e) {
        std::cerr << "exed: " << e.what() << "\n";
        return kExitConfig;
    }
    try {
        s.url = redis::parse_url(s.settings.redis_url);
    } catch (const std::invalid_argument& e) {
        std::cerr << "exed: runner.redis_url: " << e.what() << "\n";
        return kExitConfig;
    }
    if (worker_only && s.url.embedded) {
        std::cerr << "exed: `exed worker` needs a shared runner.redis_url (not embedded)\n";
        return kExitConfig;
    }
    if (!worker_only)
        if (int rc = load_security(s.settings, s.security)) return rc;
    return 0;
}

// Logging, the run_dir and the job secret: once the settings are known.
int set_up(Startup& s, bool worker_only) {
    setup_logging(s.settings);
    restrict_log_files(s.settings);
    exed_log().information(fmt::format("exed {} {} with {}", EXED_VERSION, worker_only ? "worker" : "api",
                                       s.settings.config_path));
    if (!s.settings.broker_url.empty())
        exed_log().warning("runner.broker_url is set but unused: exed queues jobs in Redis");
    private_run_dir(s.settings);
    try {
        s.settings.job_secret = jobs::load_or_create_secret(s.settings.job_secret, s.settings.run_dir);
    } catch (const std::exception& e) {
        std::cerr << "exed: job secret: " << e.what() << "\n";
        return kExitConfig;
    }
    return 0;
}

// The embedded redis-server (when redis_url says so), supervised; `url`
// then points at its socket.
int start_embedded(const Settings& settings, redis::Url& url, std::unique_ptr<redis::EmbeddedServer>& out) {
    if (!url.embedded) return 0;
    out = std::make_unique<redis::EmbeddedServer>(settings.run_dir);
    try {
        out->start();
    } catch (const std::exception& e) {
        exed_log().critical(std::string("embedded redis: ") + e.what());
        return kExitUnavailable;
    }
    out->supervise();
    url = redis::Url::unix_socket_at(out->socket_path());
    return 0;
}

// Redis may still be starting (or down): keep trying, it is not fatal;
// false when the embedded one never answers.
bool wait_for_queue(jobs::Queue& queue, bool embedded) {
    for (int attempt = 0;; ++attempt) {
        try {
            queue.ensure_group();
            return true;
        } catch (const std::exception& e) {
            if (attempt % 10 == 0) exed_log().warning(std::string("waiting for redis: ") + e.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            if (attempt > 20 && embedded) return false;
        }
    }
}

}  // namespace

int ExedApp::serve(bool worker_only) {
    std::string path = worker_only && !exe_conf_.empty() ? exe_conf_
                       : !conf_.empty()                  ? conf_
                                                         : start_dir() + "/exe.conf";
    tighten_umask();
    Startup start;
    if (int rc = load_startup(path, worker_only, start)) return rc;
    if (int rc = set_up(start, worker_only)) return rc;
    PidFile pid(worker_only ? "" : start.settings.pid_file);
    if (!pid.error.empty()) {
        std::cerr << "exed: " << pid.error << "\n";
        return kExitUnavailable;
    }
    std::unique_ptr<redis::EmbeddedServer> embedded;
    if (int rc = start_embedded(start.settings, start.url, embedded)) return rc;
    std::unique_ptr<Core> core;
    try {
        core = std::make_unique<Core>(start.settings, start.url, embedded != nullptr);
    } catch (const ConfigError& e) {
        std::cerr << "exed: " << e.what() << "\n";
        return kExitConfig;
    }
    if (!wait_for_queue(core->queue, start.url.embedded)) return kExitUnavailable;

    int rc = EXIT_OK;
    if (worker_only) {
        core->become_ready(nullptr);
        exed_log().information(fmt::format("worker {} running {} job(s) at a time", core->consumer,
                                           start.settings.concurrency));
        waitForTerminationRequest();
    } else {
        rc = serve_api(*core, start.security, start.shovey);
        if (rc == kExitConfig) {
            if (embedded) embedded->stop();
            return rc;
        }
    }
    exed_log().information("shutting down");
    sd_notify("STOPPING=1");
    core->runner.stop();
    if (embedded) embedded->stop();
    return rc;
}

int ExedApp::serve_api(Core& core, const http::security::SecuritySettings& security_settings,
                       const shovey::Config& shovey_config) {
    auto& settings = core.settings;
    operate::Submitter submitter(settings, core.registry, core.client, core.store, core.locks, core.queue,
                                 core.queued);
    operate::JobService job_service(settings, core.client, core.store, core.pool);
    jobs::AuditStream audit_stream(core.pool);
    std::unique_ptr<http::security::Security> security;
    try {
        security = std::make_unique<http::security::Security>(
            security_settings, settings, audit_store(audit_stream), [&submitter](const std::string& pattern) {
                try {
                    return submitter.expand({pattern});
                } catch (const std::exception&) {
                    return std::vector<std::string>{};  // matches nothing (or no executor)
                }
            });
    } catch (const std::exception& e) {
        std::cerr << "exed: " << e.what() << "\n";
        core.runner.stop();
        return kExitConfig;
    }
    http::security::reload_tokens_on_sighup();
    http::Services services{settings, core.registry, submitter, job_service, *security};
    services.ready = &core.ready;
    services.nodes = core.node_host->registry.get();
    services.executor = &core.client;
    http::Server server(services);
    metrics::AgentGauge agent_gauge(core.client);  // exed_agents_connected when the executor has `nodes`
    shovey::Store shovey_store(core.pool, shovey::node_status::open_list);
    operate::ReadOnlyCall read_only(submitter, core.client);  // Shovey's node check: ping without a job
    shovey::Face shovey_face(shovey_config, settings, shovey_store, submitter, job_service, read_only,
                             server.router(), core.consumer, shovey_access(*security));
    int rc = EXIT_OK;
    try {
        server.start();
        exed_log().information(fmt::format("listening on {}:{} (starting: loading plugins)", settings.listen,
                                           server.port()));
        core.become_ready(security.get());
        waitForTerminationRequest();
    } catch (const Poco::Exception& e) {
        exed_log().critical(fmt::format("cannot listen on {}:{}: {}", settings.listen, settings.listen_port,
                                        e.displayText()));
        rc = kExitUnavailable;
    }
    server.stop();
    return rc;
}

}  // namespace exed::app
