#include "agent/replay_guard.hpp"

#include <Poco/Checksum.h>
#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace exed::agent {

namespace {

// "<kind> <until, 11 digits> <sha-256, 64 hex> <crc32 of the rest, 8 hex>\n"
constexpr size_t kBody = 1 + 1 + 11 + 1 + 64;
constexpr size_t kRecord = kBody + 1 + 8 + 1;
constexpr uint64_t kCompactFrom = 1 << 20;  // bytes: below this the file is left to grow

int64_t now_s() { return int64_t(::time(nullptr)); }

uint32_t crc_of(const char* data, size_t n) {
    Poco::Checksum crc(Poco::Checksum::TYPE_CRC32);
    crc.update(data, unsigned(n));
    return crc.checksum();
}

// Length-prefixed before hashing: no two (node, value) pairs hash the same text.
std::string key_of(char kind, const std::string& node, const std::string& value) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    std::string text = std::to_string(node.size()) + ":" + node + std::to_string(value.size()) + ":" + value;
    sha.update(text);
    return kind + Poco::DigestEngine::digestToHex(sha.digest());
}

std::string record(const std::string& key, int64_t until) {
    char line[kRecord + 1];
    std::snprintf(line, sizeof line, "%c %011lld %s", key[0], static_cast<long long>(until), key.c_str() + 1);
    std::snprintf(line + kBody, sizeof line - kBody, " %08x\n", crc_of(line, kBody));
    return std::string(line, kRecord);
}

// A record as written, or false (truncated, bit rot, an edit by hand).
bool parse(const std::string& line, std::string& key, int64_t& until) {
    if (line.size() != kRecord - 1 || line[1] != ' ' || line[13] != ' ' || line[kBody] != ' ') return false;
    if (line[0] != 'n' && line[0] != 'r') return false;
    unsigned crc = 0;
    if (std::sscanf(line.c_str() + kBody + 1, "%8x", &crc) != 1 || crc != crc_of(line.data(), kBody)) return false;
    if (line.find_first_not_of("0123456789", 2) != 13) return false;
    if (line.find_first_not_of("0123456789abcdef", 14) != kBody) return false;
    until = std::stoll(line.substr(2, 11));
    key = line[0] + line.substr(14, 64);
    return true;
}

bool write_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += size_t(n);
    }
    return true;
}

void make_private_dir(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw std::runtime_error("cannot create " + dir + ": " + std::strerror(errno));
}

}  // namespace

ReplayGuard::ReplayGuard(const std::string& state_dir, Log log)
    : dir_(state_dir + "/replay"), path_(dir_ + "/seen.log"), log_(std::move(log)) {
    std::string above = Poco::Path(state_dir).makeParent().toString();
    try {
        if (!above.empty()) Poco::File(above).createDirectories();
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("cannot create " + above + ": " + e.displayText());
    }
    make_private_dir(state_dir);  // 0700 when we create it (contract: docs/agent.md)
    make_private_dir(dir_);
    // Two agents on one state_dir would each trust a guard the other
    // rewrites: the second one does not start. A lock file of its own (the
    // log itself is replaced when compacted); the kernel drops the lock
    // when the process dies, kill -9 included.
    const std::string lock_path = dir_ + "/lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) throw std::runtime_error("cannot open " + lock_path + ": " + std::strerror(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(lock_fd_);
        throw std::runtime_error("state_dir " + state_dir + " is in use by another exed agent (" + lock_path +
                                 " is locked): every agent needs its own state_dir");
    }
    load();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot open the replay guard " + path_ + ": " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd_, &st) == 0) file_bytes_ = uint64_t(st.st_size);
}

ReplayGuard::~ReplayGuard() {
    if (fd_ >= 0) ::close(fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

void ReplayGuard::load() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;  // first start
    std::string line;
    size_t bad = 0, expired = 0, total = 0;
    int64_t now = now_s();
    bool cut_short = false;  // the last line had no "\n" and did not parse
    while (std::getline(in, line)) {
        ++total;
        std::string key;
        int64_t until = 0;
        if (!parse(line, key, until)) {
            ++bad;
            cut_short = in.eof();
            continue;
        }
        if (until < now) {
            ++expired;
            continue;
        }
        auto [it, fresh] = entries_.emplace(key, until);
        if (!fresh) it->second = std::max(it->second, until);
        else if (key[0] == 'r') ++runs_;
    }
    // A record cut short is that of a command that never ran (a record is
    // synced before its command starts): dropping it refuses nothing that
    // ran. Anything else unreadable (bit rot, an edit by hand) is skipped
    // and said, and the rest kept: the agent never refuses to start over
    // it, nor refuses a valid command.
    if (cut_short) log_("replay guard " + path_ + ": dropped a record cut short (its command never ran)");
    if (size_t damaged = bad - (cut_short ? 1 : 0); damaged > 0)
        log_("replay guard " + path_ + ": skipped " + std::to_string(damaged) + " unreadable record(s) of " +
             std::to_string(total) + " (their commands could be replayed within their window)");
    std::string why;
    if ((bad > 0 || expired > 0) && !rewrite(why)) log_("replay guard " + path_ + ": " + why);
}

bool ReplayGuard::rewrite(std::string& why) {
    std::string tmp = path_ + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        why = "cannot compact into " + tmp + ": " + std::strerror(errno);
        return false;
    }
    std::string data;
    data.reserve(entries_.size() * kRecord);
    for (auto& [key, until] : entries_) data += record(key, until);
    bool ok = write_all(fd, data) && ::fdatasync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
        why = "cannot compact into " + tmp + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    if (int d = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {  // the rename, durable
        ::fsync(d);
        ::close(d);
    }
    if (fd_ >= 0) {  // appends go to the new file from now on
        int fresh = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fresh < 0) {
            why = "cannot reopen " + path_ + ": " + std::strerror(errno);
            return false;
        }
        ::close(fd_);
        fd_ = fresh;
    }
    file_bytes_ = data.size();
    return true;
}

void ReplayGuard::expire(int64_t now) {
    last_expire_ = now;
    std::vector<std::pair<int64_t, std::string>> runs;
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second < now) {
            if (it->first[0] == 'r') --runs_;
            it = entries_.erase(it);
            continue;
        }
        ++it;
    }
    if (runs_ <= kMaxRuns) return;
    for (auto& [key, until] : entries_)
        if (key[0] == 'r') runs.emplace_back(until, key);
    std::sort(runs.begin(), runs.end());
    size_t drop = runs_ - kMaxRuns;
    for (size_t i = 0; i < drop; ++i) entries_.erase(runs[i].second);
    runs_ -= drop;
    log_("replay guard: more than " + std::to_string(kMaxRuns) + " started run ids kept; forgot the " +
         std::to_string(drop) + " oldest");
}

bool ReplayGuard::remember(char kind, const std::string& node, const std::string& value, int64_t until) {
    std::string key = key_of(kind, node, value);
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, fresh] = entries_.emplace(key, until);
    if (!fresh) {
        if (it->second >= now_s()) return false;
        it->second = until;  // expired, not yet swept: it is new again
    } else if (kind == 'r') {
        ++runs_;
    }
    queued_ += record(key, until);
    if (kind == 'r') queued_runs_.push_back(key);
    return true;
}

bool ReplayGuard::remember_nonce(const std::string& node, const std::string& nonce, int64_t until) {
    return remember('n', node, nonce, until);
}

bool ReplayGuard::remember_run(const std::string& node, const std::string& run_id, int64_t until) {
    return remember('r', node, run_id, until);
}

bool ReplayGuard::commit(std::string& why) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queued_.empty()) return true;
    bool ok = write_all(fd_, queued_) && ::fdatasync(fd_) == 0;
    if (!ok) {
        why = "cannot write the replay guard " + path_ + ": " + std::strerror(errno);
        // No half record may stay for the next append to be glued to.
        if (::ftruncate(fd_, off_t(file_bytes_)) != 0) why += " (and cannot cut it back)";
        for (auto& key : queued_runs_)
            if (entries_.erase(key)) --runs_;  // they do not run: a later start may run them
        queued_.clear();
        queued_runs_.clear();
        return false;
    }
    ++syncs_;
    records_ += queued_.size() / kRecord;
    file_bytes_ += queued_.size();
    queued_.clear();
    queued_runs_.clear();
    int64_t now = now_s();
    if (now - last_expire_ >= 10) expire(now);
    if (file_bytes_ > kCompactFrom && file_bytes_ > 2 * entries_.size() * kRecord) {
        std::string compact_why;
        if (!rewrite(compact_why)) log_("replay guard: " + compact_why);
    }
    return true;
}

size_t ReplayGuard::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

uint64_t ReplayGuard::commands() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_;
}

uint64_t ReplayGuard::syncs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return syncs_;
}

}  // namespace exed::agent
