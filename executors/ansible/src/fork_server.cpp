#include "fork_server.hpp"

#include "json_util.hpp"

#include <exed/sdk.hpp>

#include <Poco/NumberParser.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace exed::ansible {
namespace {

constexpr int kReadySeconds = 30;  // imports on a loaded 2-core machine: ~1-3 s
constexpr int kRetrySeconds = 60;  // after a failure, spawn directly for this long
constexpr int kReplySeconds = 10;  // the server answers "pid" right after fork

int64_t steady_seconds() {
    using namespace std::chrono;
    return duration_cast<seconds>(steady_clock::now().time_since_epoch()).count();
}

void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
}

enum class Read { Line, Timeout, Closed };

// Reads one "\n"-terminated line from `fd` into `line` (without the "\n"),
// keeping any bytes after it in `buffer`. timeout_ms < 0: no limit.
Read read_line(int fd, std::string& buffer, std::string& line, int timeout_ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t nl;
    while ((nl = buffer.find('\n')) == std::string::npos) {
        int wait_ms = -1;
        if (timeout_ms >= 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            wait_ms = int(std::max<int64_t>(0, left.count()));
        }
        pollfd p{fd, POLLIN, 0};
        int n = poll(&p, 1, wait_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Read::Closed;
        if (n == 0) return Read::Timeout;
        char chunk[512];
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return Read::Closed;
        buffer.append(chunk, size_t(got));
    }
    line = buffer.substr(0, nl);
    buffer.erase(0, nl + 1);
    return Read::Line;
}

// A run the server forked: its exit code arrives as "exit <code>" on the
// connection. Closing the connection lets the server reap the zombie.
class ServerChild : public Child {
public:
    ServerChild(int fd, pid_t pid, std::string buffered)
        : fd_(fd), pid_(pid), buffer_(std::move(buffered)) {}
    ~ServerChild() override { close_fd(fd_); }
    pid_t pid() const override { return pid_; }
    bool exited() override {
        if (code_ < 0) receive(0);
        return code_ >= 0;
    }
    int wait() override {
        while (code_ < 0) receive(-1);
        return code_;
    }

private:
    void receive(int timeout_ms) {
        std::string line;
        switch (read_line(fd_, buffer_, line, timeout_ms)) {
        case Read::Line: {
            int code = 0;
            if (line.rfind("exit ", 0) == 0 && Poco::NumberParser::tryParse(line.substr(5), code))
                code_ = code;
            return;
        }
        case Read::Timeout:
            return;
        case Read::Closed:
            // No exit line: the server died. Its child may still run,
            // orphaned: end its group and report the kill.
            kill(-pid_, SIGKILL);
            code_ = 128 + SIGKILL;
        }
    }

    int fd_;
    pid_t pid_;
    std::string buffer_;
    int code_ = -1;
};

// Sends `data` with two descriptors attached to its first byte.
bool send_with_fds(int sock, const std::string& data, int fd1, int fd2) {
    int fds[2] = {fd1, fd2};
    char control[CMSG_SPACE(sizeof fds)] = {};
    iovec iov{const_cast<char*>(data.data()), data.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof fds);
    std::memcpy(CMSG_DATA(cm), fds, sizeof fds);
    ssize_t sent;
    while ((sent = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (sent <= 0) return false;
    size_t done = size_t(sent);
    while (done < data.size()) {
        ssize_t n = send(sock, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += size_t(n);
    }
    return true;
}

std::string request_json(const ProcessSpec& spec) {
    Array::Ptr argv = new Array;
    for (auto& a : spec.argv) argv->add(a);
    Object::Ptr env = new Object;
    for (auto& entry : merged_env(spec.env)) {
        auto eq = entry.find('=');
        if (eq != std::string::npos) env->set(entry.substr(0, eq), entry.substr(eq + 1));
    }
    Object request;
    request.set("argv", argv);
    request.set("env", env);
    request.set("cwd", spec.cwd);
    return to_json(request) + "\n";
}

}  // namespace

std::vector<std::string> interpreter_of(const std::string& program) {
    const char* path = getenv("PATH");
    std::istringstream dirs(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        std::string file = (dir.empty() ? "." : dir) + "/" + program;
        if (access(file.c_str(), X_OK) != 0) continue;
        std::ifstream in(file);
        std::string first;
        std::getline(in, first);
        if (first.rfind("#!", 0) != 0) return {};
        std::vector<std::string> words;
        std::istringstream parts(first.substr(2));
        for (std::string w; parts >> w;) words.push_back(w);
        return words;
    }
    return {};
}

ForkServer::ForkServer(std::string script, std::map<std::string, std::string> env,
                       std::string cwd, std::string socket_path)
    : script_(std::move(script)), cwd_(std::move(cwd)), socket_path_(std::move(socket_path)),
      env_(std::move(env)) {}

ForkServer::~ForkServer() {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_locked();
}

void ForkServer::launch() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pid_ > 0) {
        int status;
        if (waitpid(pid_, &status, WNOHANG) != pid_) return;  // alive
        pid_ = 0;  // died since: start a new one (after the retry delay)
        fail_locked(fmt::format("it ended ({})", WIFEXITED(status)
                                                     ? fmt::format("exit {}", WEXITSTATUS(status))
                                                     : fmt::format("signal {}", WTERMSIG(status))));
    }
    if (failed_at_ && steady_seconds() - failed_at_ < kRetrySeconds) return;
    auto python = interpreter_of("ansible");
    if (python.empty()) {
        fail_locked("no '#!' interpreter line in `ansible` on PATH");
        return;
    }
    int in_pipe[2], out_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0) return;
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        close(in_pipe[0]);
        close(in_pipe[1]);
        return;
    }
    // Own group: a Ctrl-C meant for the daemon's terminal is not for it; it
    // ends when the daemon closes its stdin. Its stderr is the daemon's.
    std::vector<std::string> argv = python;
    argv.push_back(script_);
    argv.push_back(socket_path_);
    pid_t pid = 0;
    std::string error;
    try {
        pid = spawn_leader(argv, env_, cwd_, in_pipe[0], out_pipe[1], -1);
    } catch (const exed::Error& e) {
        error = e.what();
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    if (pid <= 0) {
        close(in_pipe[1]);
        close(out_pipe[0]);
        fail_locked(error);
        return;
    }
    pid_ = pid;
    control_fd_ = in_pipe[1];
    ready_fd_ = out_pipe[0];
    ready_ = false;
}

bool ForkServer::ready_locked() {
    if (ready_) return true;
    if (pid_ <= 0 || ready_fd_ < 0) return false;
    std::string buffer, line;
    bool ok = read_line(ready_fd_, buffer, line, kReadySeconds * 1000) == Read::Line &&
              line == "ready";
    close_fd(ready_fd_);  // nothing else comes on it; the server never blocks writing
    if (!ok) {
        fail_locked(line.empty() ? "it did not report ready" : "it said: " + line);
        return false;
    }
    ready_ = true;
    return true;
}

void ForkServer::stop_locked() {
    close_fd(control_fd_);  // EOF on its stdin: it kills its runs and exits
    close_fd(ready_fd_);
    if (pid_ > 0) {
        for (int i = 0; i < 100; ++i) {  // up to 2 s, then kill
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = 0;
                break;
            }
            usleep(20000);
        }
        if (pid_ > 0) {
            kill(-pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    pid_ = 0;
    ready_ = false;
    unlink(socket_path_.c_str());
}

void ForkServer::fail_locked(const std::string& why) {
    stop_locked();
    failed_at_ = steady_seconds();
    unlogged_ = why;
}

std::unique_ptr<Child> ForkServer::start(const ProcessSpec& spec, int out_w, int err_w,
                                         const exed::Call* call) {
    auto log_failure = [&] {
        std::lock_guard<std::mutex> lock(mutex_);
        if (call && !unlogged_.empty())
            call->log(EXED_LOG_WARNING,
                      fmt::format("ansible fork server unavailable, running ansible directly "
                                  "(retry in {} s): {}",
                                  kRetrySeconds, unlogged_));
        unlogged_.clear();
    };
    launch();
    bool ready;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ready = ready_locked();
    }
    if (!ready) {
        log_failure();
        return nullptr;
    }
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return nullptr;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof addr.sun_path) {
        close(sock);
        return nullptr;
    }
    std::strcpy(addr.sun_path, socket_path_.c_str());
    std::string buffer, line;
    if (connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        !send_with_fds(sock, request_json(spec), out_w, err_w) ||
        read_line(sock, buffer, line, kReplySeconds * 1000) != Read::Line ||
        line.rfind("pid ", 0) != 0) {
        close(sock);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            fail_locked(line.empty() ? std::string("no answer on its socket")
                                     : "it answered: " + line);
        }
        log_failure();
        return nullptr;
    }
    int pid = 0;
    if (!Poco::NumberParser::tryParse(line.substr(4), pid) || pid <= 0) {
        close(sock);
        return nullptr;
    }
    return std::make_unique<ServerChild>(sock, pid_t(pid), buffer);
}

}  // namespace exed::ansible
