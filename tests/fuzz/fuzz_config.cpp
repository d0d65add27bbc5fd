// Fuzz target: exe.conf parsing and validation (load_settings). The only
// acceptable failure is ConfigError with a message.
#include "config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = "/tmp/exed-fuzz-config-" + std::to_string(getpid()) + ".conf";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    try {
        exed::load_settings(path);
    } catch (const exed::ConfigError& e) {
        if (std::string(e.what()).empty()) __builtin_trap();
    }
    return 0;
}
