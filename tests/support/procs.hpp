// Looks for processes by their command line (/proc), to prove a cancelled
// job's processes are really gone (and to clean up after a test).
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <fstream>
#include <string>
#include <vector>

namespace exed::test {

// Pids of the processes whose argv, joined by spaces, equals `cmdline`. A
// zombie has an empty cmdline: it is gone for our purposes.
inline std::vector<pid_t> pids_of(const std::string& cmdline) {
    std::vector<pid_t> pids;
    DIR* d = opendir("/proc");
    if (!d) return pids;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        for (auto& c : all)
            if (c == '\0') c = ' ';
        if (!all.empty() && all.back() == ' ') all.pop_back();
        if (all == cmdline) pids.push_back(pid_t(std::stol(e->d_name)));
    }
    closedir(d);
    return pids;
}

// Number of processes whose argv, joined by spaces, equals `cmdline`.
inline int count_processes(const std::string& cmdline) { return int(pids_of(cmdline).size()); }

}  // namespace exed::test
