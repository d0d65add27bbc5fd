// A real exed process for integration tests: its own temp dir, config and
// port; started from the build tree's binary, stopped with SIGTERM (or
// killed with SIGKILL to test crashes).
#pragma once

#include "support/temp_dir.hpp"

#include <string>
#include <vector>
#include <sys/types.h>

namespace exed::test {

// A free TCP port on 127.0.0.1 (bind to 0, read it back).
int free_port();

class ExedProcess {
public:
    // `config` is the INI text; "@PORT@" and "@DIR@" in it are replaced by
    // this process's port and temp dir.
    explicit ExedProcess(const std::string& config);
    ~ExedProcess();

    // Starts `exed -c <conf>` (or `exed worker --exe-conf <conf>`) and waits
    // until it serves /health (or, for a worker, logs that it runs).
    void start(bool worker = false, int wait_s = 20);
    // Commands that exec exed with the rest of their arguments (e.g. a
    // private mount namespace: {"unshare", "-m", "sh", "-c", "...; exec \"$0\" \"$@\""}).
    void set_wrapper(std::vector<std::string> w) { wrapper_ = std::move(w); }
    // false: start() returns once exed listens, before its plugins are loaded.
    void set_wait_ready(bool wait) { wait_ready_ = wait; }
    // Starts with raw arguments and waits for it to exit; returns the exit code.
    int run_to_exit(const std::vector<std::string>& args, int wait_s = 20);
    void stop(int sig = 15, int wait_s = 20);  // returns after it exited
    void kill9() { stop(9); }
    bool alive() const;

    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    int exit_code() const { return exit_code_; }
    const TempDir& dir() const { return dir_; }
    std::string conf_path() const { return dir_.file("exe.conf"); }
    std::string log() const;  // stdout+stderr so far
    // The log's tail (and the warnings before it) to stderr; the destructor
    // prints it when the test case failed.
    void print_log_tail() const;

private:
    pid_t spawn(const std::vector<std::string>& args);

    void write_config();

    TempDir dir_;
    std::string config_;  // with @PORT@ still in it: a first start that loses its port race picks another
    std::vector<std::string> wrapper_;
    int port_;
    int port_retries_ = 0;
    bool wait_ready_ = true;
    pid_t pid_ = 0;
    int exit_code_ = -1;
};

// Binary paths in the build tree.
std::string exed_binary();
std::string test_plugin_dir(const std::string& which);  // good, broken, dup, partial, sdk10, secret

}  // namespace exed::test
