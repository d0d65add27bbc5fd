// API tokens: who a bearer token is, what it may do and on which hosts.
// The tokens file holds one line per token,
//     <name> <sha256 hex of the token> <scopes> <target patterns>
// so only hashes are on disk. The table reloads when the file's mtime
// changes (checked at most once a second) or on SIGHUP; a file that does
// not parse keeps the previous table (and is logged).
#pragma once

#include <Poco/Timestamp.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace exed::http::security {

// Agent: report Shovey runs (the agent-facing PUTs) for the nodes in the
// token's patterns, and nothing else.
enum Scope : unsigned { Read = 1, Run = 2, Deploy = 4, Release = 8, Admin = 16, Agent = 32 };

// "read,run" -> Read|Run; throws std::invalid_argument naming a bad scope.
unsigned parse_scopes(const std::string& list);
std::string scope_name(Scope s);

struct Caller {
    std::string name;                   // token name; "anonymous" without tokens
    unsigned scopes = 0;
    std::vector<std::string> patterns;  // executor pattern syntax; "*" = all hosts

    bool has(Scope s) const { return (scopes & Admin) || (scopes & s); }
    bool admin() const { return scopes & Admin; }
    bool all_hosts() const;
};

// SHA-256 of `token` as lowercase hex (the form stored in the file).
std::string token_hash(const std::string& token);
// A new random token (256 bits, base64url).
std::string new_token();
// Whether `name` may name a token (letters, digits, . _ - @).
bool valid_token_name(const std::string& name);

class TokenTable {
public:
    // `file` may be empty; `legacy` is the old [api] auth_token (an admin
    // token named "auth_token"). Throws std::runtime_error when the file
    // does not parse.
    TokenTable(std::string file, const std::string& legacy);

    // The caller owning `token`, or null. Every entry is compared, in
    // constant time over fixed-size digests, whatever the token's length.
    std::shared_ptr<const Caller> find(const std::string& token);
    bool empty() const;

    // Asks for a reload at the next lookup (SIGHUP).
    static void request_reload();

private:
    struct Entry {
        Caller caller;
        std::string digest;  // 32 raw bytes
    };
    using Entries = std::vector<Entry>;
    static std::shared_ptr<const Entries> parse(const std::string& file);
    static std::string stamp(const std::string& file);
    void maybe_reload();

    std::string file_;
    Entry legacy_;
    bool has_legacy_ = false;
    mutable std::mutex mu_;
    std::shared_ptr<const Entries> entries_;
    std::string loaded_stamp_;  // mtime (ns), size and inode of the file loaded
    Poco::Timestamp last_check_;
};

}  // namespace exed::http::security
