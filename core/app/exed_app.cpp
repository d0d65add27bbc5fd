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

int ExedApp::serve(bool worker_only) {
    std::string path = worker_only && !exe_conf_.empty() ? exe_conf_
                       : !conf_.empty()                  ? conf_
                                                         : start_dir() + "/exe.conf";
    tighten_umask();
    Settings settings;
    shovey::Config shovey_config;
    try {
        settings = load_settings(path);
        shovey_config = shovey::load_config(settings);
    } catch (const ConfigError& e) {
        std::cerr << "exed: " << e.what() << "\n";
        return kExitConfig;
    }
    redis::Url url;
    try {
        url = redis::parse_url(settings.redis_url);
    } catch (const std::invalid_argument& e) {
        std::cerr << "exed: runner.redis_url: " << e.what() << "\n";
        return kExitConfig;
    }
    if (worker_only && url.embedded) {
        std::cerr << "exed: `exed worker` needs a shared runner.redis_url (not embedded)\n";
        return kExitConfig;
    }
    http::security::SecuritySettings security_settings;
    if (!worker_only)
        if (int rc = load_security(settings, security_settings)) return rc;
    setup_logging(settings);
    restrict_log_files(settings);
    exed_log().information(fmt::format("exed {} {} with {}", EXED_VERSION,
                                     worker_only ? "worker" : "api", settings.config_path));
    if (!settings.broker_url.empty())
        exed_log().warning("runner.broker_url is set but unused: exed queues jobs in Redis");
    private_run_dir(settings);
    try {
        settings.job_secret = jobs::load_or_create_secret(settings.job_secret, settings.run_dir);
    } catch (const std::exception& e) {
        std::cerr << "exed: job secret: " << e.what() << "\n";
        return kExitConfig;
    }
    PidFile pid(worker_only ? "" : settings.pid_file);
    if (!pid.error.empty()) {
        std::cerr << "exed: " << pid.error << "\n";
        return kExitUnavailable;
    }

    std::unique_ptr<redis::EmbeddedServer> embedded;
    if (url.embedded) {
        embedded = std::make_unique<redis::EmbeddedServer>(settings.run_dir);
        try {
            embedded->start();
        } catch (const std::exception& e) {
            exed_log().critical(std::string("embedded redis: ") + e.what());
            return kExitUnavailable;
        }
        embedded->supervise();
        url = redis::Url::unix_socket_at(embedded->socket_path());
    }
    redis::Pool pool(url, size_t(settings.http_threads + settings.concurrency + 8));
    if (embedded) pool.set_data_dir(settings.run_dir);
    // Before the plugins: the agent executor asks it from its first connection.
    std::unique_ptr<NodeRegistryHost> node_host;
    try {
        node_host = node_registry_host(settings, &pool, true);
    } catch (const ConfigError& e) {
        std::cerr << "exed: " << e.what() << "\n";
        return kExitConfig;
    }

    plugins::Registry registry([&settings](const std::string& type) {
        return settings.section_json(type);
    });
    // Starts the plugin host, which loads the plugins in the background
    // (in_process: loads them here); become_ready() waits for them.
    auto client_ptr = pluginhost::make_executor_client(settings, registry);
    plugins::ExecutorClient& client = *client_ptr;

    jobs::Store store(pool, settings.job_ttl);
    jobs::Locks locks(pool);
    jobs::Queue queue(pool);
    // Redis may still be starting (or down): keep trying, it is not fatal.
    for (int attempt = 0;; ++attempt) {
        try {
            queue.ensure_group();
            break;
        } catch (const std::exception& e) {
            if (attempt % 10 == 0) exed_log().warning(std::string("waiting for redis: ") + e.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            if (attempt > 20 && url.embedded) return kExitUnavailable;
        }
    }

    std::string consumer = fmt::format("{}-{}", Poco::Environment::nodeName(), Poco::Process::id());
    jobs::QueuedLeases queued;
    runner::WorkerPool runner(settings, client, store, locks, queue, queued, consumer);

    // Readiness (issue 23): the API listens at once and answers "starting"
    // (GET /health 503, everything else 503) until the plugins are loaded;
    // then workers start, what plugins mark secret is masked, and systemd
    // hears READY=1. A host that never says hello: serve anyway after 60 s,
    // as before (operations answer 503 "not loaded").
    std::atomic<bool> ready{false};
    auto become_ready = [&](http::security::Security* security) {
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
    };

    int rc = EXIT_OK;
    if (worker_only) {
        become_ready(nullptr);
        exed_log().information(fmt::format("worker {} running {} job(s) at a time", consumer,
                                         settings.concurrency));
        waitForTerminationRequest();
    } else {
        operate::Submitter submitter(settings, registry, client, store, locks, queue, queued);
        operate::JobService job_service(settings, client, store, pool);
        jobs::AuditStream audit_stream(pool);
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
            runner.stop();
            if (embedded) embedded->stop();
            return kExitConfig;
        }
        http::security::reload_tokens_on_sighup();
        http::Services services{settings, registry, submitter, job_service, *security};
        services.ready = &ready;
        services.nodes = node_host->registry.get();
        services.executor = &client;
        http::Server server(services);
        metrics::AgentGauge agent_gauge(client);  // exed_agents_connected when the executor has `nodes`
        shovey::Store shovey_store(pool);
        operate::ReadOnlyCall read_only(submitter, client);  // Shovey's node check: ping without a job
        shovey::Face shovey_face(shovey_config, settings, shovey_store, submitter, job_service, read_only,
                                 server.router(), consumer, shovey_access(*security));
        try {
            server.start();
            exed_log().information(fmt::format("listening on {}:{} (starting: loading plugins)", settings.listen,
                                             server.port()));
            become_ready(security.get());
            waitForTerminationRequest();
        } catch (const Poco::Exception& e) {
            exed_log().critical(fmt::format("cannot listen on {}:{}: {}", settings.listen,
                                          settings.listen_port, e.displayText()));
            rc = kExitUnavailable;
        }
        server.stop();
    }
    exed_log().information("shutting down");
    sd_notify("STOPPING=1");
    runner.stop();
    if (embedded) embedded->stop();
    return rc;
}

}  // namespace exed::app
