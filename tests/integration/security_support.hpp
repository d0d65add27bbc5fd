// Shared pieces of the security suites: tokens made by the real
// `exed token` command, an exe.conf with a tokens file, and requests that
// carry a bearer token.
#pragma once

#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>

namespace exed::test {

struct Token {
    std::string name, secret, line;  // line: as appended to the tokens file
};

// Runs `exed token NAME --scopes S --targets T`; returns its exit code and
// stdout lines.
inline int exed_token_cli(const std::string& args, std::vector<std::string>& lines) {
    std::string cmd = exed_binary() + " token " + args + " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("popen failed");
    char buf[4096];
    std::string out;
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int status = pclose(p);
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline Token make_token(const std::string& name, const std::string& scopes, const std::string& targets) {
    std::vector<std::string> lines;
    int rc = exed_token_cli(name + " --scopes " + scopes + " --targets '" + targets + "'", lines);
    if (rc != 0 || lines.size() != 2) throw std::runtime_error("exed token failed for " + name);
    return {name, lines[0], lines[1]};
}

inline std::map<std::string, std::string> bearer(const Token& t) {
    return {{"Authorization", "Bearer " + t.secret}};
}

// exe.conf of the test executor with a tokens file at @DIR@/tokens.
inline std::string token_config(const std::string& redis_url, const std::string& extra = "") {
    return test_config(redis_url, "[api]\ntokens_file = @DIR@/tokens\n" + extra);
}

}  // namespace exed::test
