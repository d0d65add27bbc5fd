// Looks for processes by their command line (/proc), to prove a cancelled
// job's processes are really gone (and to clean up after a test).
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

namespace exed::test {

// A /proc file's text; "" when its process went away meanwhile (reading a
// vanished process's cmdline fails with ESRCH, which libstdc++'s filebuf
// turns into an exception; other tests start and end processes all along).
inline std::string read_proc_file(const std::string& path) {
    try {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::exception&) {
        return "";
    }
}

// Pids of the processes whose argv, joined by spaces, equals `cmdline`. A
// zombie has an empty cmdline: it is gone for our purposes.
inline std::vector<pid_t> pids_of(const std::string& cmdline) {
    std::vector<pid_t> pids;
    DIR* d = opendir("/proc");
    if (!d) return pids;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::string all = read_proc_file(std::string("/proc/") + e->d_name + "/cmdline");
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

// The plugin host of the exed with pid `exed`: its child running
// `exed plugin-host`; 0 when there is none.
inline pid_t plugin_host_of(pid_t exed) {
    DIR* d = opendir("/proc");
    pid_t found = 0;
    while (dirent* e = d ? readdir(d) : nullptr) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::string dir = std::string("/proc/") + e->d_name;
        std::string stat = read_proc_file(dir + "/stat");
        size_t paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        long ppid = 0;
        char state = 0;
        if (sscanf(stat.c_str() + paren + 1, " %c %ld", &state, &ppid) != 2 || ppid != exed) continue;
        if (read_proc_file(dir + "/cmdline").find(std::string("plugin-host\0", 12)) != std::string::npos)
            found = pid_t(std::stol(e->d_name));
    }
    if (d) closedir(d);
    return found;
}

}  // namespace exed::test
