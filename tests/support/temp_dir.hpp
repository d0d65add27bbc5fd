// A temporary directory removed with everything in it at scope end.
#pragma once

#include <string>

namespace exed::test {

class TempDir {
public:
    // Short paths: unix socket paths must stay under 108 bytes.
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    // Writes `content` to file(name) and returns its path.
    std::string write(const std::string& name, const std::string& content) const;

private:
    std::string path_;
};

}  // namespace exed::test
