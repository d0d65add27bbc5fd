#include "agent/agent_main.hpp"

#include "agent/agent_config.hpp"
#include "agent/agent_loop.hpp"

#include <atomic>
#include <cstring>
#include <iostream>

#include <signal.h>
#include <sys/resource.h>

namespace exed::agent {

namespace {

std::atomic<bool> stop_requested{false};

void on_stop_signal(int) { stop_requested = true; }

// instances = N holds N sockets: take the open-file limit up to the hard limit.
void raise_open_file_limit(int needed) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur < rlim_t(needed) + 64)
        std::cerr << "exed agent: open-file limit " << lim.rlim_cur << " is too low for " << needed
                  << " nodes (raise LimitNOFILE)" << std::endl;
}

}  // namespace

int agent_main(int argc, char** argv) {
    std::string conf;
    for (int i = 2; i < argc; ++i) {
        if ((std::strcmp(argv[i], "-c") == 0 || std::strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            conf = argv[++i];
    }
    if (conf.empty()) {
        std::cerr << "usage: exed agent -c agent.conf\n";
        return 2;
    }
    try {
        AgentConfig config = load_agent_config(conf);
        raise_open_file_limit(config.instances);
        struct sigaction sa{};
        sa.sa_handler = on_stop_signal;
        sigaction(SIGTERM, &sa, nullptr);
        sigaction(SIGINT, &sa, nullptr);
        signal(SIGPIPE, SIG_IGN);
        AgentLoop loop(config);
        std::cerr << "exed agent: " << config.node_names().size() << " node(s) ("
                  << config.node_names().front() << (config.instances > 1 ? " ..." : "") << ") dialing "
                  << config.server_host << ":" << config.server_port << std::endl;
        loop.run(stop_requested);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "exed agent: " << e.what() << std::endl;
        return 1;
    }
}

}  // namespace exed::agent
