#include "redis/embedded.hpp"

#include "redis/pool.hpp"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace exed::redis {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("exed.redis"); }

std::string tail_of(const std::string& path, size_t max = 600) {
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > max ? all.substr(all.size() - max) : all;
}
}  // namespace

EmbeddedServer::EmbeddedServer(std::string run_dir)
    : run_dir_(Poco::Path(run_dir).absolute().toString()) {
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

void EmbeddedServer::start(int wait_seconds) {
    Poco::File(run_dir_).createDirectories();
    if (Poco::File(socket_path()).exists() && answers()) {
        logger().warning(fmt::format("reusing the embedded redis already answering on {}",
                                     socket_path()));
        return;
    }
    // The socket path must fit in sun_path (108 bytes).
    if (socket_path().size() >= 100)
        throw std::runtime_error("run_dir path is too long for a unix socket: " + socket_path());
    std::vector<std::string> args = {
        "redis-server", "--port", "0", "--unixsocket", socket_path(), "--unixsocketperm", "700",
        "--dir", run_dir_, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--daemonize", "no", "--pidfile", run_dir_ + "/redis.pid", "--logfile",
        run_dir_ + "/redis.log", "--protected-mode", "yes"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Its own process group: a Ctrl-C at exed's terminal must not kill
    // redis before exed has finished with it; stop() ends it.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    int rc = posix_spawnp(&pid_, "redis-server", nullptr, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        throw std::runtime_error("cannot start redis-server (is the redis-server package installed?)");
    owned_ = true;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
    while (std::chrono::steady_clock::now() < until) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            owned_ = false;
            pid_ = 0;
            throw std::runtime_error("redis-server exited at start: " +
                                     tail_of(run_dir_ + "/redis.log"));
        }
        if (answers()) {
            logger().information(fmt::format("embedded redis-server pid {} on {}", pid_,
                                             socket_path()));
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop();
    throw std::runtime_error("redis-server did not answer within " +
                             std::to_string(wait_seconds) + " s");
}

void EmbeddedServer::stop() {
    if (!owned_ || pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            owned_ = false;
            pid_ = 0;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    owned_ = false;
    pid_ = 0;
}

}  // namespace exed::redis
