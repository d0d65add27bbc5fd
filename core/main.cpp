// exed entry point. `-d` is EXEd's short flag for --daemon; Poco's
// ServerApplication only recognises the long form, so translate it first.
#include "agent/agent_main.hpp"
#include "app/exed_app.hpp"
#include "pluginhost/host_main.hpp"

#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

int main(int argc, char** argv) {
    // The node-side agent shares the binary but none of the daemon's start-up.
    if (argc > 1 && std::strcmp(argv[1], "agent") == 0) return exed::agent::agent_main(argc, argv);
    // The plugin host exed starts for itself (hidden; see core/pluginhost).
    if (argc > 1 && std::strcmp(argv[1], "plugin-host") == 0) return exed::pluginhost::host_main(argc, argv);
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) exed::app::ExedApp::start_dir() = cwd;
    std::vector<char*> args(argv, argv + argc);
    static char daemon_flag[] = "--daemon";
    for (auto& a : args)
        if (std::strcmp(a, "-d") == 0) a = daemon_flag;
    exed::app::ExedApp app;
    return app.run(int(args.size()), args.data());
}
