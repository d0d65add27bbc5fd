// Looks for processes by their command line (/proc), to prove a cancelled
// job's processes are really gone.
#pragma once

#include <dirent.h>
#include <fstream>
#include <string>

namespace exed::test {

// Number of processes whose argv, joined by spaces, equals `cmdline`.
inline int count_processes(const std::string& cmdline) {
    int n = 0;
    DIR* d = opendir("/proc");
    if (!d) return -1;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        for (auto& c : all)
            if (c == '\0') c = ' ';
        if (!all.empty() && all.back() == ' ') all.pop_back();
        // A zombie has an empty cmdline: it is gone for our purposes.
        if (all == cmdline) ++n;
    }
    closedir(d);
    return n;
}

}  // namespace exed::test
