// A real git repository for release tests: a bare repo served by path,
// with numbered commits (each writing VERSION) and optional tags.
#pragma once

#include "support/temp_dir.hpp"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace exed::test {

class GitRepo {
public:
    // Creates `commits` commits; commit i writes "i" to VERSION and is
    // tagged "v<i>" when `tag` is true.
    explicit GitRepo(int commits, bool tag = true) {
        std::string work = dir_.file("work");
        run("git init -q -b main " + work);
        for (int i = 1; i <= commits; ++i) {
            dir_.write("work/VERSION", std::to_string(i) + "\n");
            run("git -C " + work + " add VERSION");
            run("git -C " + work + " -c user.name=exed -c user.email=exed@test commit -q -m v" +
                std::to_string(i));
            if (tag) run("git -C " + work + " tag v" + std::to_string(i));
            shas_.push_back(capture("git -C " + work + " rev-parse HEAD"));
        }
        run("git clone -q --bare " + work + " " + url());
    }

    std::string url() const { return dir_.file("origin.git"); }
    const std::string& sha(int i) const { return shas_.at(size_t(i - 1)); }  // 1-based

    static std::string capture(const std::string& cmd) {
        std::string out;
        FILE* p = popen(cmd.c_str(), "r");
        if (!p) throw std::runtime_error("popen failed: " + cmd);
        char buf[256];
        while (fgets(buf, sizeof buf, p)) out += buf;
        pclose(p);
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        return out;
    }

private:
    static void run(const std::string& cmd) {
        if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0)
            throw std::runtime_error("failed: " + cmd);
    }

    TempDir dir_;
    std::vector<std::string> shas_;
};

}  // namespace exed::test
