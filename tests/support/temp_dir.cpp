#include "support/temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <stdlib.h>

namespace exed::test {

TempDir::TempDir() {
    char tmpl[] = "/tmp/exedt.XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
    std::string p = file(name);
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p) << content;
    return p;
}

}  // namespace exed::test
