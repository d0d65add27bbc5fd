#include "redis/embedded.hpp"

#include "redis/pool.hpp"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Path.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace exed::redis {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("exed.redis"); }

std::string tail_of(const std::string& path, size_t max = 600) {
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > max ? all.substr(all.size() - max) : all;
}

std::string describe_exit(int status) {
    if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
    return fmt::format("exited with status {}", WEXITSTATUS(status));
}
}  // namespace

EmbeddedServer::EmbeddedServer(std::string run_dir, bool cluster)
    : run_dir_(Poco::Path(run_dir).absolute().toString()), cluster_(cluster) {
    if (!run_dir_.empty() && run_dir_.back() == '/') run_dir_.pop_back();
}

EmbeddedServer::~EmbeddedServer() { stop(); }

bool EmbeddedServer::answers() const {
    try {
        Pool p(Url::unix_socket_at(socket_path()), 1);
        return p.ping();
    } catch (const std::exception&) {
        return false;
    }
}

// redis.lock is held (flock) by the exed whose server this is, for its
// whole life; the kernel drops it when that exed dies, kill -9 included.
// Close-on-exec: redis-server itself must never hold it.
bool EmbeddedServer::take_lock() {
    lock_fd_ = ::open((run_dir_ + "/redis.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) throw std::runtime_error("cannot open " + run_dir_ + "/redis.lock");
    if (flock(lock_fd_, LOCK_EX | LOCK_NB) == 0) return true;
    ::close(lock_fd_);
    lock_fd_ = -1;
    return false;
}

// Left by an exed that died: SHUTDOWN flushes its AOF and ends it; our
// own child then takes over the same files.
void EmbeddedServer::shut_down_orphan() {
    logger().warning(fmt::format("an embedded redis-server left by an exed that died answers on {}: "
                                 "shutting it down to start our own on its data", socket_path()));
    try {
        Pool p(Url::unix_socket_at(socket_path()), 1);
        p.run(Command("SHUTDOWN"));
    } catch (const std::exception&) {  // it closes the connection as it goes
    }
    for (int i = 0; i < 200 && answers(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (answers()) throw std::runtime_error("the orphaned redis-server on " + socket_path() +
                                            " did not shut down");
}

void EmbeddedServer::start(int wait_seconds) {
    Poco::File(run_dir_).createDirectories();
    stopping_ = false;
    if (!take_lock()) {
        if (answers()) {
            logger().warning(fmt::format("reusing the embedded redis of another exed on {}",
                                         socket_path()));
            return;
        }
        throw std::runtime_error("run dir " + run_dir_ + " is in use by another exed (redis.lock)");
    }
    if (Poco::File(socket_path()).exists() && answers()) shut_down_orphan();
    // The socket path must fit in sun_path (108 bytes).
    if (socket_path().size() >= 100)
        throw std::runtime_error("run_dir path is too long for a unix socket: " + socket_path());
    spawn_and_wait(wait_seconds);
}

bool EmbeddedServer::cluster_requested() {
    const char* v = std::getenv("EXED_TEST_REDIS_CLUSTER");
    return v && std::string(v) == "1";
}

std::vector<std::string> EmbeddedServer::server_args() const {
    std::vector<std::string> args = {
        "redis-server", "--port", "0", "--unixsocket", socket_path(), "--unixsocketperm", "700",
        "--dir", run_dir_, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--daemonize", "no", "--pidfile", run_dir_ + "/redis.pid", "--logfile",
        run_dir_ + "/redis.log", "--protected-mode", "yes"};
    if (cluster_) {
        // A lone node never uses its cluster bus, but listens on it: left
        // alone that is port 0 + 10000 on every address, one server per
        // machine. Loopback, on a port free a moment ago (spawn_and_wait
        // retries when another server took it meanwhile).
        Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
        args.insert(args.end(), {"--cluster-enabled", "yes", "--cluster-config-file",
                                 run_dir_ + "/nodes.conf", "--bind", "127.0.0.1", "--cluster-port",
                                 std::to_string(probe.address().port())});
    }
    return args;
}

pid_t EmbeddedServer::spawn(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // Its own process group: a Ctrl-C at exed's terminal must not kill
    // redis before exed has finished with it; stop() ends it.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, "redis-server", nullptr, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        throw std::runtime_error("cannot start redis-server (is the redis-server package installed?)");
    return pid;
}

void EmbeddedServer::spawn_and_wait(int wait_seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
    for (int attempt = 1;; ++attempt) {
        pid_t pid = spawn(server_args());
        pid_ = pid;
        owned_ = true;
        bool retry = false;
        while (!retry && std::chrono::steady_clock::now() < until) {
            int status = 0;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                owned_ = false;
                pid_ = 0;
                std::string log = tail_of(run_dir_ + "/redis.log");
                retry = cluster_ && attempt < 4 && log.find("Address already in use") != std::string::npos;
                if (!retry)
                    throw std::runtime_error("redis-server " + describe_exit(status) + " at start: " + log);
            } else if (answers()) {
                if (cluster_) own_all_slots(until);
                logger().information(fmt::format("embedded redis-server pid {} on {}{}", pid, socket_path(),
                                                 cluster_ ? " (one-node cluster)" : ""));
                return;
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
        if (retry) continue;
        kill(pid, SIGKILL);  // not stop(): the supervisor calls this too
        waitpid(pid, nullptr, 0);
        pid_ = 0;
        throw std::runtime_error("redis-server did not answer within " +
                                 std::to_string(wait_seconds) + " s");
    }
}

// A new node owns no slot and refuses data commands (CLUSTERDOWN); one
// restarted on its nodes.conf owns them all already. Either way: back
// once the node says cluster_state:ok.
void EmbeddedServer::own_all_slots(std::chrono::steady_clock::time_point until) {
    Pool p(Url::unix_socket_at(socket_path()), 1);
    auto info = [&p] {
        Command c("CLUSTER");
        c << "INFO";
        return p.run(c).text();
    };
    if (info().find("cluster_slots_assigned:0\r") != std::string::npos) {
        Command add("CLUSTER");
        add << "ADDSLOTSRANGE" << "0" << "16383";
        p.run(add);
    }
    while (info().find("cluster_state:ok") == std::string::npos) {
        if (std::chrono::steady_clock::now() >= until)
            throw std::runtime_error("redis-server in cluster mode did not reach cluster_state:ok");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void EmbeddedServer::supervise() {
    if (!owned_ || supervisor_.joinable()) return;
    supervisor_ = std::thread([this] { supervise_loop(); });
}

void EmbeddedServer::supervise_loop() {
    using namespace std::chrono;
    auto backoff = milliseconds(500);
    auto up_since = steady_clock::now();
    std::unique_lock<std::mutex> l(mutex_);
    while (!stopping_) {
        wake_.wait_for(l, milliseconds(200));
        if (stopping_) break;
        int status = 0;
        pid_t pid = pid_;
        if (pid > 0 && waitpid(pid, &status, WNOHANG) != pid) continue;  // still running
        if (pid > 0) {
            pid_ = 0;
            // A server that stayed up a while starts the backoff afresh.
            if (steady_clock::now() - up_since > minutes(1)) backoff = milliseconds(500);
            logger().error(fmt::format("embedded redis-server pid {} {}; restarting it in {} ms "
                                       "(it reloads its AOF)", pid, describe_exit(status),
                                       backoff.count()));
        }
        if (wake_.wait_for(l, backoff, [this] { return stopping_.load(); })) break;
        backoff = std::min(backoff * 2, duration_cast<milliseconds>(seconds(10)));
        try {
            spawn_and_wait(60);  // a big AOF takes a while to load
            ++restarts_;
            up_since = steady_clock::now();
        } catch (const std::exception& e) {
            logger().error(std::string("embedded redis-server restart failed: ") + e.what());
        }
    }
}

void EmbeddedServer::stop() {
    stopping_ = true;
    wake_.notify_all();
    if (supervisor_.joinable()) supervisor_.join();
    pid_t pid = pid_;
    if (owned_ && pid > 0) {
        kill(pid, SIGTERM);
        bool gone = false;
        for (int i = 0; i < 200 && !gone; ++i) {
            int status = 0;
            gone = waitpid(pid, &status, WNOHANG) == pid;
            if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (!gone) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
    owned_ = false;
    pid_ = 0;
    if (lock_fd_ >= 0) {
        ::close(lock_fd_);
        lock_fd_ = -1;
    }
}

}  // namespace exed::redis
