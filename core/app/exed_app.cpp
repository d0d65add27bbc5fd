#include "app/exed_app.hpp"

#include "app/logging.hpp"
#include "config.hpp"
#include "http/server.hpp"
#include "jobs/queue.hpp"
#include "jobs/signature.hpp"
#include "operate/submitter.hpp"
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

#include <fstream>
#include <iostream>
#include <thread>

#include <unistd.h>

namespace exed::app {

using Poco::Util::Option;

namespace {

constexpr int kExitConfig = 78;    // EX_CONFIG
constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE

Poco::Logger& exed_log() { return Poco::Logger::get("exed"); }

// Removes the pid file when exed leaves serve(), however it leaves.
struct PidFile {
    std::string path;
    explicit PidFile(std::string p) : path(std::move(p)) {
        if (path.empty()) return;
        std::ofstream(path) << Poco::Process::id() << "\n";
    }
    ~PidFile() {
        if (!path.empty()) std::remove(path.c_str());
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
        "  -d, --daemon      run in the background");
    help.format(std::cout);
}

int ExedApp::main(const std::vector<std::string>& args) {
    if (stop_early_) return EXIT_OK;
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
    setup_logging(settings);
    exed_log().information(fmt::format("exed {} {} with {}", EXED_VERSION,
                                     worker_only ? "worker" : "api", settings.config_path));
    if (!settings.broker_url.empty())
        exed_log().warning("runner.broker_url is set but unused: exed queues jobs in Redis");
    Poco::File(settings.run_dir).createDirectories();
    try {
        settings.job_secret = jobs::load_or_create_secret(settings.job_secret, settings.run_dir);
    } catch (const std::exception& e) {
        std::cerr << "exed: job secret: " << e.what() << "\n";
        return kExitConfig;
    }
    PidFile pid(worker_only ? "" : settings.pid_file);

    std::unique_ptr<redis::EmbeddedServer> embedded;
    if (url.embedded) {
        embedded = std::make_unique<redis::EmbeddedServer>(settings.run_dir);
        try {
            embedded->start();
        } catch (const std::exception& e) {
            exed_log().critical(std::string("embedded redis: ") + e.what());
            return kExitUnavailable;
        }
        url = redis::Url::unix_socket_at(embedded->socket_path());
    }
    redis::Pool pool(url, size_t(settings.http_threads + settings.concurrency + 8));

    plugins::Registry registry([&settings](const std::string& type) {
        return settings.section_json(type);
    });
    registry.load_dirs(settings.plugin_dirs);
    if (!registry.find("executor", settings.executor))
        exed_log().error(fmt::format("executor plugin '{}' is not loaded: operations will answer 503",
                                   settings.executor));

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
    runner::Runner runner(settings, registry, store, locks, queue, consumer);
    runner.start(settings.concurrency);

    int rc = EXIT_OK;
    if (worker_only) {
        exed_log().information(fmt::format("worker {} running {} job(s) at a time", consumer,
                                         settings.concurrency));
        waitForTerminationRequest();
    } else {
        operate::Submitter submitter(settings, registry, store, locks, queue,
                                     [&runner](const std::string& jid, const std::vector<std::string>& hosts) {
                                         runner.hold_queued(jid, hosts);
                                     });
        http::Services services{settings, registry, pool, store, submitter};
        http::Server server(services);
        shovey::Face shovey_face(shovey_config, settings, pool, submitter, store, server.router(), consumer);
        try {
            server.start();
            exed_log().information(fmt::format("listening on {}:{}", settings.listen, server.port()));
            waitForTerminationRequest();
        } catch (const Poco::Exception& e) {
            exed_log().critical(fmt::format("cannot listen on {}:{}: {}", settings.listen,
                                          settings.listen_port, e.displayText()));
            rc = kExitUnavailable;
        }
        server.stop();
    }
    exed_log().information("shutting down");
    runner.stop();
    if (embedded) embedded->stop();
    return rc;
}

}  // namespace exed::app
