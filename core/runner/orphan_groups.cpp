#include "runner/orphan_groups.hpp"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/NumberParser.h>
#include <Poco/String.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include <signal.h>
#include <unistd.h>

namespace exed::runner {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.runner"); }

// A file's text; "" when it cannot be read. A /proc file of a process that
// ends between the open and the read fails with ESRCH, which libstdc++'s
// filebuf throws ("basic_filebuf::underflow ... No such process"): from
// track_process, under a job's plugin call, that left the job running for
// ever (the CI flake of a quick command on 100 nodes).
std::string read_file(const std::string& path) {
    try {
        std::ifstream in(path);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    } catch (const std::exception&) {
        return "";
    }
}

std::string boot_id() {
    return Poco::trim(read_file("/proc/sys/kernel/random/boot_id"));
}

// "<pid>-<start>" -> both; false for anything else (not ours: left alone).
bool parse_name(const std::string& name, pid_t& pid, uint64_t& start) {
    auto dash = name.find('-');
    if (dash == std::string::npos) return false;
    int p = 0;
    Poco::UInt64 s = 0;
    if (!Poco::NumberParser::tryParse(name.substr(0, dash), p) || p <= 0 ||
        !Poco::NumberParser::tryParseUnsigned64(name.substr(dash + 1), s))
        return false;
    pid = pid_t(p);
    start = s;
    return true;
}

void remove_quietly(const std::string& path, bool recursive = false) {
    try {
        Poco::File(path).remove(recursive);
    } catch (const Poco::Exception&) {
        // another exed sharing the run_dir swept it first
    }
}

}  // namespace

uint64_t process_start(pid_t pid) {
    std::string stat = read_file(fmt::format("/proc/{}/stat", pid));
    // The command name (field 2) may hold spaces and parentheses: the
    // fields are counted from its last ')'. starttime is field 22.
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) return 0;
    std::istringstream fields(stat.substr(paren + 1));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
        if (i == 22) {
            Poco::UInt64 start = 0;
            return Poco::NumberParser::tryParseUnsigned64(field, start) ? start : 0;
        }
    }
    return 0;
}

GroupRecord::GroupRecord(const std::string& run_dir) {
    if (run_dir.empty()) return;
    base_ = run_dir + "/groups";
    std::string boot = boot_id();
    if (boot.empty()) boot = "unknown-boot";
    boot_ = base_ + "/" + boot;
    own_ = fmt::format("{}/{}-{}", boot_, getpid(), process_start(getpid()));
}

GroupRecord::~GroupRecord() {
    std::lock_guard<std::mutex> l(mutex_);
    if (made_) ::rmdir(own_.c_str());  // fails, as it should, while records are left
}

void GroupRecord::add(const std::string& jid, pid_t pgid) {
    if (own_.empty() || pgid <= 1) return;
    uint64_t start = process_start(pgid);
    if (start == 0) return;  // already gone (and reaped): nothing can outlive the job
    std::lock_guard<std::mutex> l(mutex_);
    try {
        if (!made_) {
            Poco::File(own_).createDirectories();
            made_ = true;
        }
        std::string path = fmt::format("{}/{}-{}", own_, pgid, start);
        std::ofstream out(path, std::ios::trunc);
        out << jid;
        out.close();
        if (!out) throw std::runtime_error("cannot write " + path);
        files_[pgid] = path;
    } catch (const std::exception& e) {
        // The job runs on: the record only matters if exed dies under it.
        logger().warning(fmt::format("[{}] cannot record process group {}: {} (a kill -9 of exed and its "
                                     "plugin host could leave it running)", jid, pgid, e.what()));
    }
}

void GroupRecord::remove(pid_t pgid) {
    std::lock_guard<std::mutex> l(mutex_);
    auto it = files_.find(pgid);
    if (it == files_.end()) return;
    ::unlink(it->second.c_str());
    files_.erase(it);
}

int GroupRecord::end_orphans() {
    if (base_.empty() || !Poco::File(base_).exists()) return 0;
    std::string own_boot = boot_.substr(base_.size() + 1);
    std::vector<pid_t> killed;
    std::vector<std::string> swept;  // owner directories whose groups are handled
    try {
        for (Poco::DirectoryIterator boot(base_), end; boot != end; ++boot) {
            // Records of another boot: every process of theirs died with it.
            if (boot.name() != own_boot) {
                remove_quietly(boot.path().toString(), true);
                continue;
            }
            for (Poco::DirectoryIterator owner(boot.path()); owner != end; ++owner) {
                pid_t opid = 0;
                uint64_t ostart = 0;
                if (!parse_name(owner.name(), opid, ostart)) continue;
                if (process_start(opid) == ostart) continue;  // alive (this process included): its own
                for (Poco::DirectoryIterator group(owner.path()); group != end; ++group) {
                    pid_t pgid = 0;
                    uint64_t start = 0;
                    // Never 1: kill(-1) would signal every process we may.
                    if (!parse_name(group.name(), pgid, start) || pgid <= 1) continue;
                    std::string jid = Poco::trim(read_file(group.path().toString()));
                    uint64_t now = process_start(pgid);
                    // Its leader with the recorded start time: the group we
                    // recorded. No leader but members left: still that group,
                    // as Linux gives no new process the number of a live group
                    // (only a group that emptied and came back under a new
                    // leader that left too could fool this). Another start
                    // time: the number was recycled, not ours to kill.
                    bool ours = now == start || (now == 0 && ::kill(-pgid, 0) == 0);
                    if (ours && ::kill(-pgid, SIGKILL) == 0) {
                        killed.push_back(pgid);
                        logger().warning(fmt::format("[{}] killed process group {} left running by exed pid {}, "
                                                     "which is gone: a lost job's commands never outlive its "
                                                     "host locks", jid, pgid, opid));
                    }
                }
                swept.push_back(owner.path().toString());
            }
        }
    } catch (const Poco::Exception& e) {
        logger().warning(fmt::format("cannot sweep the process groups recorded in {}: {}", base_, e.displayText()));
    }
    // SIGKILL is not instant (a process in uninterruptible sleep finishes
    // its call first): wait a little, so that the caller frees nothing
    // while they still run.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (pid_t g : killed) {
        while (::kill(-g, 0) == 0 && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (auto& dir : swept) remove_quietly(dir, true);
    return int(killed.size());
}

}  // namespace exed::runner
