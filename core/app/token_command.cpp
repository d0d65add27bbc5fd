#include "app/token_command.hpp"

#include "http/security/tokens.hpp"

#include <Poco/StringTokenizer.h>

#include <iostream>

namespace exed::app {

int token_command(const std::string& name, const std::string& scopes, const std::string& targets) {
    namespace sec = exed::http::security;
    constexpr int kExitUsage = 64;
    if (!sec::valid_token_name(name)) {
        std::cerr << "exed token: NAME must be 1-64 letters, digits, '.', '_', '-' or '@'\n";
        return kExitUsage;
    }
    try {
        sec::parse_scopes(scopes);
    } catch (const std::invalid_argument& e) {
        std::cerr << "exed token: --scopes: " << e.what() << "\n";
        return kExitUsage;
    }
    std::string scope_list;  // normalised: the file's fields are whitespace-separated
    for (const auto& sc : Poco::StringTokenizer(scopes, ",", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM))
        scope_list += (scope_list.empty() ? "" : ",") + sc;
    Poco::StringTokenizer t(targets, ",", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
    std::string patterns;
    for (const auto& p : t) {
        if (p.find_first_of(" \t\r\n") != std::string::npos) {
            std::cerr << "exed token: --targets: a pattern may not contain whitespace: '" << p << "'\n";
            return kExitUsage;
        }
        patterns += (patterns.empty() ? "" : ",") + p;
    }
    if (patterns.empty()) {
        std::cerr << "exed token: --targets needs at least one pattern ('*' = all hosts)\n";
        return kExitUsage;
    }
    std::string token = sec::new_token();
    std::cout << token << "\n"
              << name << " " << sec::token_hash(token) << " " << scope_list << " " << patterns << "\n";
    std::cerr << "exed token: line 1 is the token (shown once, keep it secret); "
                 "append line 2 to the [api] tokens_file\n";
    return 0;
}

}  // namespace exed::app
