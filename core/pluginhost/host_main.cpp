#include "pluginhost/host_main.hpp"

#include "app/logging.hpp"
#include "app/node_setup.hpp"
#include "config.hpp"
#include "plugins/in_process_client.hpp"
#include "plugins/registry.hpp"
#include "pluginhost/crash_report.hpp"
#include "pluginhost/frame.hpp"
#include "pluginhost/host_serve.hpp"
#include "pluginhost/protocol.hpp"
#include "pluginhost/tracked_groups.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace exed::pluginhost {

namespace {

constexpr int kExitConfig = 78;  // EX_CONFIG, as exed itself

Poco::Logger& logger() { return Poco::Logger::get("exed.pluginhost"); }

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
    end_groups_on_sigterm();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (parent <= 0 || getppid() != pid_t(parent) || conf.empty()) {
        std::cerr << "exed plugin-host: started by exed only (its socket is fd " << kHostFd << ")\n";
        return 64;  // EX_USAGE
    }
    // The socket must not leak into the commands plugins start: one of
    // them holding it would keep exed from seeing this process die.
    fcntl(kHostFd, F_SETFD, FD_CLOEXEC);
    fcntl(kCrashFd, F_SETFD, FD_CLOEXEC);  // the same for the crash report pipe
    install_crash_report();
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
    // The node registry plugins ask through the SDK (node_registry): its own
    // pool to exed's Redis (the embedded server's socket is under run_dir,
    // started by exed before this process). Never destroyed, like the rest.
    try {
        app::node_registry_host(settings, nullptr, true).release();
    } catch (const std::exception& e) {
        logger().error(std::string("no node registry for the plugins: ") + e.what());
    }
    // Never destroyed before the end: call threads may still hold them.
    auto* registry = new plugins::Registry([&settings](const std::string& type) {
        return settings.section_json(type);
    });
    registry->load_dirs(settings.plugin_dirs);
    auto* client = new plugins::InProcessClient(*registry, settings.executor);
    auto* out = new FrameWriter(kHostFd);
    if (out->write(hello_message(*registry)) != Sent::ok) return 0;  // exed went away meanwhile
    auto* host = new HostServer(*client, *out, kHostFd);
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
