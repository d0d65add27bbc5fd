#include "support/exed_process.hpp"

#include "support/http_client.hpp"

#include <Poco/Net/ServerSocket.h>
#include <Poco/String.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace exed::test {

namespace {

// Whether the test case running now failed an assertion: doctest tells its
// listeners of every failed one. A process's log is shown when its test
// failed (~ExedProcess): without it a CI failure says what, never why.
std::atomic<bool> g_case_failed{false};

class FailureListener : public doctest::IReporter {
public:
    explicit FailureListener(const doctest::ContextOptions&) {}
    void test_case_start(const doctest::TestCaseData&) override { g_case_failed = false; }
    void log_assert(const doctest::AssertData& a) override {
        if (a.m_failed) g_case_failed = true;
    }
    void log_message(const doctest::MessageData& m) override {
        if (m.m_severity & (doctest::assertType::is_check | doctest::assertType::is_require)) g_case_failed = true;
    }
    void test_case_exception(const doctest::TestCaseException&) override { g_case_failed = true; }
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("exed-process-log", 1, FailureListener);

// Lines of a log worth showing after a failure: its last kTailLines, and
// before them the last kEarlierLines warnings and errors (what went wrong
// minutes before the end, under thousands of information lines).
constexpr size_t kTailLines = 200, kEarlierLines = 100;

bool is_warning(const std::string& line) {
    for (const char* p : {"[Warning]", "[Error]", "[Critical]", "[Fatal]"})
        if (line.find(p) != std::string::npos) return true;
    return false;
}

}  // namespace

int free_port() {
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    return s.address().port();
}

std::string exed_binary() { return std::string(EXED_BUILD_DIR) + "/core/exed"; }
std::string test_plugin_dir(const std::string& which) {
    return std::string(EXED_BUILD_DIR) + "/test-plugins/" + which;
}

ExedProcess::ExedProcess(const std::string& config) : config_(config), port_(free_port()) { write_config(); }

void ExedProcess::write_config() {
    std::string text = Poco::replace(config_, std::string("@PORT@"), std::to_string(port_));
    text = Poco::replace(text, std::string("@DIR@"), dir_.path());
    dir_.write("exe.conf", text);
}

ExedProcess::~ExedProcess() {
    if (alive()) stop(15, 10);  // SIGTERM first: exed stops its embedded redis
    // Failed by an assertion, or ended by an exception (a REQUIRE, a throw).
    if (g_case_failed || std::uncaught_exceptions() > 0) print_log_tail();
}

void ExedProcess::print_log_tail() const {
    std::ifstream in(dir_.file("exed.out"));
    std::deque<std::string> tail, earlier;
    size_t total = 0;
    for (std::string line; std::getline(in, line); ++total) {
        tail.push_back(std::move(line));
        if (tail.size() <= kTailLines) continue;
        if (is_warning(tail.front())) earlier.push_back(std::move(tail.front()));
        if (earlier.size() > kEarlierLines) earlier.pop_front();
        tail.pop_front();
    }
    std::cerr << "---- exed on port " << port_ << " (" << dir_.path() << "), its log: " << total << " lines";
    if (!earlier.empty()) std::cerr << "; the last " << earlier.size() << " warnings/errors before its tail";
    std::cerr << " ----\n";
    for (auto& l : earlier) std::cerr << l << "\n";
    if (!earlier.empty()) std::cerr << "---- its last " << tail.size() << " lines ----\n";
    for (auto& l : tail) std::cerr << l << "\n";
    std::cerr << "---- end of the log of exed on port " << port_ << " ----" << std::endl;
}

pid_t ExedProcess::spawn(const std::vector<std::string>& args) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string logf = dir_.file("exed.out");
    posix_spawn_file_actions_addopen(&fa, 1, logf.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<std::string> all = wrapper_;
    all.push_back(exed_binary());
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    // Run in the temp dir so relative paths (run/) land there.
    std::string cwd = dir_.path();
    char old[4096];
    if (!getcwd(old, sizeof old)) old[0] = 0;
    if (chdir(cwd.c_str()) != 0) throw std::runtime_error("chdir failed");
    int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    if (old[0] && chdir(old) != 0) throw std::runtime_error("chdir back failed");
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + exed_binary());
    return pid;
}

void ExedProcess::start(bool worker, int wait_s) {
    size_t log_before = log().size();  // a restart appends to the same log
    pid_ = worker ? spawn({"worker", "--exe-conf", conf_path()}) : spawn({"-c", conf_path()});
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
    while (std::chrono::steady_clock::now() < until) {
        if (!alive()) {
            // free_port() closes its probe: a test running in parallel may
            // have taken the same port since. Only a first start may move.
            bool port_taken = log().find("Address already in use", log_before) != std::string::npos;
            if (port_taken && log_before == 0 && config_.find("@PORT@") != std::string::npos &&
                ++port_retries_ <= 3) {
                port_ = free_port();
                write_config();
                pid_ = worker ? spawn({"worker", "--exe-conf", conf_path()}) : spawn({"-c", conf_path()});
                continue;
            }
            throw std::runtime_error("exed exited at start:\n" + log());
        }
        if (worker) {
            if (log().find("running") != std::string::npos) return;
        } else {
            // Up once its plugins are loaded (it says so; it listens before,
            // answering "starting"). A TLS listener does not answer plain
            // HTTP: its log lines say it is up. wait_ready_ false: as soon as
            // it listens (the readiness tests).
            std::string since = log().substr(log_before);
            if (since.find("exed is ready") != std::string::npos) return;
            size_t listening = since.find("listening on");
            if (listening != std::string::npos &&
                (!wait_ready_ || since.find("(starting", listening) == std::string::npos))
                return;
            try {
                auto r = http("GET", port_, "/plugins", "", {}, 2);
                if (r.status == 200 || r.status == 401) return;
            } catch (...) {
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("exed did not come up:\n" + log());
}

int ExedProcess::run_to_exit(const std::vector<std::string>& args, int wait_s) {
    pid_ = spawn(args);
    for (int i = 0; i < wait_s * 20; ++i) {
        if (!alive()) return exit_code_;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop(9);
    throw std::runtime_error("exed did not exit:\n" + log());
}

bool ExedProcess::alive() const {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        auto* self = const_cast<ExedProcess*>(this);
        self->exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        self->pid_ = 0;
        return false;
    }
    return r == 0;
}

void ExedProcess::stop(int sig, int wait_s) {
    if (!alive()) return;
    kill(pid_, sig);
    for (int i = 0; i < wait_s * 20; ++i) {
        if (!alive()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
}

std::string ExedProcess::log() const {
    std::ifstream in(dir_.file("exed.out"));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace exed::test
