#include "pluginhost/host_process.hpp"

#include "json.hpp"
#include "pluginhost/crash_report.hpp"
#include "pluginhost/host_main.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <climits>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace exed::pluginhost {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.pluginhost"); }
using Clock = std::chrono::steady_clock;

// A host that served and died in a call is restarted at once: the crash is
// the call's (its job is failed at its second crash), and every other
// user waits only for the restart (issue 23). Restart delays apply to a
// host that dies without a call in flight or before its hello (a plugin
// that crashes at load or on a thread of its own): 0.25 s after a first
// crash, doubling up to 10 s while the host keeps dying soon after its
// start; a host that lived a minute starts the count again.
constexpr auto kFirstDelay = std::chrono::milliseconds(250);
constexpr auto kMaxDelay = std::chrono::seconds(10);
constexpr auto kStableAfter = std::chrono::seconds(60);

std::string self_exe() {
    std::vector<char> buf(PATH_MAX + 1, '\0');
    ssize_t n = readlink("/proc/self/exe", buf.data(), PATH_MAX);
    return n > 0 ? std::string(buf.data(), size_t(n)) : std::string("exed");
}

std::string describe(int status) {
    if (WIFSIGNALED(status))
        return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return fmt::format("exited with status {}", WEXITSTATUS(status));
}

}  // namespace

Poco::JSON::Object::Ptr PendingCall::next(std::chrono::milliseconds wait, std::vector<std::string>* strings) {
    std::string text;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait_for(lock, wait, [this] { return !inbox_.empty() || crashed_; });
        if (inbox_.empty()) return nullptr;  // frames sent before a crash come first
        text = std::move(inbox_.front());
        inbox_.pop_front();
    }
    if (auto frame = parse_frame(text, strings)) return frame;
    // Not JSON from our own binary: answer the call as failed rather than
    // wait; the other calls go on (a run's caller cancels its op).
    Poco::JSON::Object::Ptr broken = new Poco::JSON::Object;
    broken->set("t", "result");
    broken->set("status", EXED_ERR);
    broken->set("error", "the plugin host sent an unreadable answer");
    broken->set("unreadable", true);
    return broken;
}

bool PendingCall::bystander() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bystander_;
}

bool PendingCall::crashed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return crashed_ && inbox_.empty();
}

std::string PendingCall::crash() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return crash_;
}

void PendingCall::deliver(std::string frame) {
    std::lock_guard<std::mutex> lock(mutex_);
    inbox_.push_back(std::move(frame));
    ready_.notify_one();
}

void PendingCall::fail(const std::string& how, bool bystander) {
    std::lock_guard<std::mutex> lock(mutex_);
    crashed_ = true;
    bystander_ = bystander;
    crash_ = how;
    ready_.notify_one();
}

HostProcess::Connection::~Connection() { ::close(fd); }

HostProcess::HostProcess(std::string config_path, std::function<void(const Listing&)> on_hello)
    : config_path_(std::move(config_path)), on_hello_(std::move(on_hello)) {}

HostProcess::~HostProcess() { stop(); }

bool HostProcess::start(int wait_s) {
    supervisor_ = std::thread([this] { supervise(); });
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(wait_s), [this] { return hello_seen_ || stopping_; }) &&
           hello_seen_;
}

bool HostProcess::wait_hello(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, wait, [this] { return hello_seen_ || stopping_; }) && hello_seen_;
}

bool HostProcess::hello_seen() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return hello_seen_;
}

void HostProcess::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
        // The host reads EOF, ends its calls and exits; our reader reads EOF.
        if (connection_) ::shutdown(connection_->fd, SHUT_RDWR);
        changed_.notify_all();
    }
    if (supervisor_.joinable()) supervisor_.join();
}

std::shared_ptr<PendingCall> HostProcess::call(Poco::JSON::Object message, std::chrono::milliseconds wait) {
    std::shared_ptr<PendingCall> pending;
    std::shared_ptr<Connection> conn;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!changed_.wait_for(lock, wait, [this] { return up_ || stopping_; }) || !up_) return nullptr;
        pending = std::make_shared<PendingCall>(next_id_++);
        // Registered before it is sent: a crash from here on fails it.
        calls_[pending->id()] = pending;
        conn = connection_;
    }
    message.set("id", pending->id());
    // A failed write is a dying host: the reader fails the call. One too
    // large to send is that call's failure alone.
    if (conn->writer.write(message) == Sent::too_large) {
        Poco::JSON::Object refused;
        refused.set("t", "result");
        refused.set("status", EXED_ERR);
        refused.set("error", "the call is larger than the plugin host's frame limit of " +
                                 std::to_string(kMaxFrame) + " bytes");
        pending->deliver(json_string(refused));
    }
    return pending;
}

void HostProcess::send(Poco::JSON::Object message) {
    std::shared_ptr<Connection> conn;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!up_) return;
        conn = connection_;
    }
    conn->writer.write(message);
}

void HostProcess::end(int64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.erase(id);
}

std::shared_ptr<const Listing> HostProcess::listing() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return listing_;
}

pid_t HostProcess::pid() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return pid_;
}

bool HostProcess::spawn() {
    int sv[2], report[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        logger().error(fmt::format("plugin host: socketpair: {}", strerror(errno)));
        return false;
    }
    if (pipe2(report, O_CLOEXEC) != 0) {
        logger().error(fmt::format("plugin host: pipe: {}", strerror(errno)));
        ::close(sv[0]);
        ::close(sv[1]);
        return false;
    }
    fcntl(report[0], F_SETFL, O_NONBLOCK);  // read once the host is dead: never waits
    // Everything the child needs is made before fork: between fork and
    // exec only async-signal-safe calls are allowed (exed has threads).
    std::string exe = self_exe(), parent = std::to_string(getpid());
    std::vector<std::string> args{exe, "plugin-host", "--conf", config_path_, "--parent", parent};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t me = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        logger().error(fmt::format("plugin host: fork: {}", strerror(errno)));
        for (int fd : {sv[0], sv[1], report[0], report[1]}) ::close(fd);
        return false;
    }
    if (pid == 0) {
        // Dies with exed (PDEATHSIG follows this thread, the supervisor,
        // which lives as long as exed serves), and never outlives an exed
        // that is already gone. SIGTERM: the host ends the process groups
        // of its runs before it exits (host_main.cpp).
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != me) _exit(70);
        setpgid(0, 0);  // terminal signals are exed's; it stops the host itself
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        // Moved above the target numbers first: either end may be 3 or 4.
        int sock = fcntl(sv[1], F_DUPFD_CLOEXEC, 10), pipe_w = fcntl(report[1], F_DUPFD_CLOEXEC, 10);
        if (sock < 0 || pipe_w < 0 || dup2(sock, kHostFd) < 0 || dup2(pipe_w, kCrashFd) < 0) _exit(71);
        close_range(kCrashFd + 1, ~0U, 0);  // nothing else of exed's leaks in
        execv(argv[0], argv.data());
        _exit(127);
    }
    ::close(sv[1]);
    ::close(report[1]);
    std::lock_guard<std::mutex> lock(mutex_);
    culprit_fd_ = report[0];
    pid_ = pid;
    connection_ = std::make_shared<Connection>(sv[0]);
    if (stopping_) ::shutdown(sv[0], SHUT_RDWR);  // stop() came while it started
    return true;
}

bool HostProcess::read_frames(const std::shared_ptr<Connection>& conn, pid_t pid) {
    bool hello = false;
    // The host's death is seen on its pidfd too, not only as EOF: a
    // process it forked without exec could still hold its socket open.
    int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
    FrameReader reader(conn->fd, pidfd);
    int64_t id = 0;
    std::string text;
    while (reader.next(id, text)) {
        if (id != 0) {  // a call's frame: its thread parses it
            std::shared_ptr<PendingCall> pending;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                auto it = calls_.find(id);
                if (it != calls_.end()) pending = it->second;
            }
            if (pending) pending->deliver(std::move(text));
            continue;
        }
        // A frame of no call: one that cannot be read is logged and
        // skipped; the connection and the calls on it go on.
        auto frame = parse_frame(text);
        if (!frame) {
            logger().warning(fmt::format("plugin host (pid {}): an unreadable frame of {} bytes skipped", pid,
                                         text.size()));
            continue;
        }
        if (text_of(*frame, "t") == "hello") {
            auto listing = listing_of(*frame);
            logger().information(fmt::format("plugin host (pid {}) up: {} plugin(s) loaded, {} refused",
                                             integer_of(*frame, "pid", 0), listing.plugins.size(),
                                             listing.refusals.size()));
            if (on_hello_) on_hello_(listing);
            std::lock_guard<std::mutex> lock(mutex_);
            listing_ = std::make_shared<const Listing>(std::move(listing));
            up_ = hello_seen_ = hello = true;
            changed_.notify_all();
        }
    }
    if (pidfd >= 0) ::close(pidfd);
    return hello;
}

std::string HostProcess::reap(pid_t pid, bool stopping) {
    // A host that closed its socket is dying; one stopping drains its
    // calls first (up to 10 s). Past that it is killed.
    auto give_up = Clock::now() + (stopping ? std::chrono::seconds(15) : std::chrono::seconds(2));
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (Clock::now() >= give_up) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return describe(status);
}

void HostProcess::supervise() {
    int crashes_in_a_row = 0;
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) return;
        }
        auto started = Clock::now();
        std::shared_ptr<Connection> conn;
        pid_t pid = 0;
        int culprit_fd = -1;
        bool served = false;
        if (spawn()) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                conn = connection_;
                pid = pid_;
                culprit_fd = culprit_fd_;
                culprit_fd_ = -1;
            }
            served = read_frames(conn, pid);
        }
        std::map<int64_t, std::shared_ptr<PendingCall>> orphaned;
        bool stopping;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            up_ = false;
            orphaned.swap(calls_);
            connection_.reset();
            stopping = stopping_;
        }
        std::string how = pid ? reap(pid, stopping) : "could not be started";
        int64_t culprit = read_culprit(culprit_fd);  // the host is reaped: all it wrote is there
        if (culprit_fd >= 0) ::close(culprit_fd);
        for (auto& [id, pending] : orphaned) pending->fail(how, culprit != 0 && id != culprit);
        conn.reset();
        if (stopping) {
            logger().information(fmt::format("plugin host (pid {}) {}", pid, how));
            return;
        }
        // A call took it down: the call pays (its job's crash count), the
        // others get a new host now. Otherwise nothing bounds a crash loop
        // but the delay.
        bool a_call_crashed_it = served && (culprit != 0 || !orphaned.empty());
        std::chrono::milliseconds delay(0);
        if (a_call_crashed_it) {
            crashes_in_a_row = 0;
        } else {
            crashes_in_a_row = Clock::now() - started >= kStableAfter ? 1 : crashes_in_a_row + 1;
            delay = std::min<std::chrono::milliseconds>(kFirstDelay * (1 << std::min(crashes_in_a_row - 1, 6)),
                                                        kMaxDelay);
        }
        logger().error(fmt::format("plugin host (pid {}) crashed: {}; {} call(s) in flight failed{}; "
                                   "restarting it in {:.2f} s (crash {} in a row)",
                                   pid, how, orphaned.size(),
                                   culprit ? fmt::format(" (call {} crashed it)", culprit) : std::string(),
                                   delay.count() / 1000.0, crashes_in_a_row));
        if (delay.count() == 0) continue;
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait_for(lock, delay, [this] { return stopping_; });
    }
}

}  // namespace exed::pluginhost
