#include "http/security/tokens.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/DigestEngine.h>
#include <Poco/Logger.h>
#include <Poco/RandomStream.h>
#include <Poco/StringTokenizer.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <sstream>

#include <sys/stat.h>

namespace exed::http::security {

namespace {

std::atomic<bool> reload_requested{false};

std::string raw_sha256(const std::string& data) {
    Poco::Crypto::DigestEngine engine("SHA256");
    engine.update(data);
    const auto& d = engine.digest();
    return std::string(d.begin(), d.end());
}

// Both are 32-byte digests: the loop never depends on the token's content.
bool same_digest(const std::string& a, const std::string& b) {
    unsigned char diff = static_cast<unsigned char>(a.size() ^ b.size());
    for (size_t i = 0; i < a.size() && i < b.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

std::vector<std::string> comma_list(const std::string& s) {
    Poco::StringTokenizer t(s, ",", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
    return {t.begin(), t.end()};
}

}  // namespace

namespace {

// Each scope's name, once: parsing, naming and the messages read it.
struct ScopeName {
    Scope scope;
    const char* name;
};
constexpr ScopeName kScopeNames[] = {{Read, "read"},       {Run, "run"},     {Deploy, "deploy"},
                                     {Release, "release"}, {Admin, "admin"}, {Agent, "agent"}};

std::string scope_list() {
    std::string out;
    for (const auto& s : kScopeNames) out += std::string(out.empty() ? "" : ", ") + s.name;
    return out;
}

}  // namespace

unsigned parse_scopes(const std::string& list) {
    unsigned out = 0;
    for (const auto& s : comma_list(list)) {
        unsigned bit = 0;
        for (const auto& n : kScopeNames)
            if (s == n.name) bit = n.scope;
        if (!bit) throw std::invalid_argument("unknown scope '" + s + "' (" + scope_list() + ")");
        out |= bit;
    }
    if (!out) throw std::invalid_argument("no scope given (" + scope_list() + ")");
    return out;
}

std::string scope_name(Scope s) {
    for (const auto& n : kScopeNames)
        if (s == n.scope) return n.name;
    return "?";
}

bool Caller::all_hosts() const {
    for (const auto& p : patterns)
        if (p == "*") return true;
    return false;
}

std::string token_hash(const std::string& token) {
    Poco::Crypto::DigestEngine engine("SHA256");
    engine.update(token);
    return Poco::DigestEngine::digestToHex(engine.digest());
}

std::string new_token() {
    Poco::RandomInputStream random;
    char bytes[32];
    random.read(bytes, sizeof bytes);
    std::ostringstream out;
    Poco::Base64Encoder enc(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    enc.rdbuf()->setLineLength(0);
    enc.write(bytes, sizeof bytes);
    enc.close();
    return "exed_" + out.str();
}

bool valid_token_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (char ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-' && ch != '@')
            return false;
    return true;
}

TokenTable::TokenTable(std::string file, const std::string& legacy) : file_(std::move(file)) {
    if (!legacy.empty()) {
        legacy_.caller = Caller{"auth_token", Admin | Read | Run | Deploy | Release, {"*"}};
        legacy_.digest = raw_sha256(legacy);
        has_legacy_ = true;
    }
    entries_ = std::make_shared<Entries>();
    if (!file_.empty()) {
        loaded_stamp_ = stamp(file_);
        entries_ = parse(file_);
    }
}

std::shared_ptr<const TokenTable::Entries> TokenTable::parse(const std::string& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("tokens file " + file + " is not readable");
    auto out = std::make_shared<Entries>();
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        Poco::StringTokenizer f(line, " \t", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
        if (f.count() == 0 || f[0][0] == '#') continue;
        auto bad = [&](const std::string& why) {
            return std::runtime_error("tokens file " + file + " line " + std::to_string(n) + ": " + why);
        };
        if (f.count() != 4) throw bad("expected <name> <sha256 hex> <scopes> <target patterns>");
        if (!valid_token_name(f[0])) throw bad("bad token name '" + f[0] + "'");
        std::string digest;
        try {
            auto d = Poco::DigestEngine::digestFromHex(f[1]);
            digest.assign(d.begin(), d.end());
        } catch (const Poco::Exception&) {
        }
        if (digest.size() != 32) throw bad("the second field must be 64 hex digits (sha256 of the token)");
        Entry e;
        e.digest = digest;
        e.caller.name = f[0];
        try {
            e.caller.scopes = parse_scopes(f[2]);
        } catch (const std::invalid_argument& ex) {
            throw bad(ex.what());
        }
        e.caller.patterns = comma_list(f[3]);
        if (e.caller.patterns.empty()) throw bad("no target pattern ('*' = all hosts)");
        for (const auto& other : *out)
            if (other.caller.name == e.caller.name) throw bad("token name '" + e.caller.name + "' appears twice");
        out->push_back(std::move(e));
    }
    return out;
}

std::string TokenTable::stamp(const std::string& file) {
    // Poco::File's mtime has whole seconds: two edits within a second
    // would look alike, so use the nanoseconds, the size and the inode.
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return "missing";
    return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
           std::to_string(st.st_size) + "/" + std::to_string(st.st_ino);
}

void TokenTable::request_reload() { reload_requested = true; }

void TokenTable::maybe_reload() {
    if (file_.empty()) return;
    bool forced = reload_requested.exchange(false);
    Poco::Timestamp now;
    if (!forced && now - last_check_ < 1000000) return;
    last_check_ = now;
    try {
        std::string now_stamp = stamp(file_);
        if (!forced && now_stamp == loaded_stamp_) return;
        loaded_stamp_ = now_stamp;  // a bad file is reported once, not per request
        auto fresh = parse(file_);
        entries_ = fresh;
        Poco::Logger::get("exed.security")
            .information("tokens file " + file_ + " loaded: " + std::to_string(fresh->size()) + " token(s)");
    } catch (const std::exception& e) {
        Poco::Logger::get("exed.security").error(std::string(e.what()) + " (keeping the previous tokens)");
    }
}

std::shared_ptr<const Caller> TokenTable::find(const std::string& token) {
    std::shared_ptr<const Entries> entries;
    {
        std::lock_guard<std::mutex> lock(mu_);
        maybe_reload();
        entries = entries_;
    }
    std::string digest = raw_sha256(token);
    const Entry* found = nullptr;
    for (const auto& e : *entries)
        if (same_digest(e.digest, digest)) found = &e;
    if (has_legacy_ && same_digest(legacy_.digest, digest)) found = &legacy_;
    if (!found) return nullptr;
    // Copy: the table may be replaced by a reload while the caller is used.
    return std::make_shared<const Caller>(found->caller);
}

bool TokenTable::empty() const {
    std::lock_guard<std::mutex> lock(mu_);
    return !has_legacy_ && file_.empty();
}

}  // namespace exed::http::security
