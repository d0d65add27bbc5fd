#include "config.hpp"

#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/Path.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/NumberParser.h>
#include <Poco/String.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include <sstream>
#include <thread>

namespace exed {

namespace {

int get_int(const Poco::Util::AbstractConfiguration& c, const std::string& key, int def, int min,
            int max) {
    if (!c.hasProperty(key)) return def;
    std::string v = c.getString(key);
    int n = 0;
    if (!Poco::NumberParser::tryParse(Poco::trim(v), n) || n < min || n > max)
        throw ConfigError(fmt::format("{}: expected an integer in [{}, {}], got '{}'", key, min,
                                      max, v));
    return n;
}

std::vector<std::string> split_list(const std::string& s) {
    Poco::StringTokenizer t(s, ",:", Poco::StringTokenizer::TOK_IGNORE_EMPTY |
                                         Poco::StringTokenizer::TOK_TRIM);
    return {t.begin(), t.end()};
}

// Poco's INI reader accepts almost anything; a typo like "[api" or a line
// without "=" would silently change meaning, so refuse such lines.
void validate_ini_lines(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        std::string t = Poco::trim(line);
        if (t.empty() || t[0] == ';' || t[0] == '#') continue;
        bool section = t.front() == '[' && t.back() == ']' && t.size() > 2;
        if (!section && t.find('=') == std::string::npos)
            throw ConfigError(fmt::format("config file {} is malformed at line {}: '{}'", path, n, t));
    }
}

// A secret given inline (`key`) or, better for ops, as the first line of
// a file (`key_file`).
std::string secret(const Poco::Util::AbstractConfiguration& c, const std::string& key) {
    std::string value = c.getString(key, "");
    if (!c.hasProperty(key + "_file")) return value;
    std::string path = c.getString(key + "_file");
    std::ifstream in(path);
    if (!in || !std::getline(in, value) || Poco::trim(value).empty())
        throw ConfigError(fmt::format("{}_file {} is not readable or empty", key, path));
    return Poco::trim(value);
}

}  // namespace

std::vector<std::string> default_plugin_dirs() {
    // Relative to the binary (<prefix>/bin/exed -> <prefix>/lib/exed/plugins),
    // so one build serves `make install` and the .deb; the build tree's dir
    // only for a binary inside that build tree.
    std::vector<std::string> dirs;
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) dirs.push_back((exe.parent_path().parent_path() / "lib/exed/plugins").string());
    std::string build_root = std::filesystem::path(EXED_BUILD_PLUGIN_DIR).parent_path().string() + "/";
    if (ec || exe.string().rfind(build_root, 0) == 0) dirs.push_back(EXED_BUILD_PLUGIN_DIR);
    return dirs;
}

std::string Settings::section_json(const std::string& name) const {
    Poco::JSON::Object obj;
    if (raw) {
        Poco::Util::AbstractConfiguration::Keys keys;
        raw->keys(name, keys);
        for (const auto& k : keys) obj.set(k, raw->getString(name + "." + k));
    }
    std::ostringstream out;
    obj.stringify(out);
    return out.str();
}

Settings load_settings(const std::string& path) {
    Poco::File f(path);
    if (!f.exists()) throw ConfigError(fmt::format("config file {} does not exist", path));
    if (!f.canRead()) throw ConfigError(fmt::format("config file {} is not readable", path));
    Settings s;
    s.config_path = Poco::Path(path).absolute().toString();
    validate_ini_lines(path);
    try {
        s.raw = new Poco::Util::IniFileConfiguration(path);
    } catch (const Poco::Exception& e) {
        throw ConfigError(fmt::format("config file {} is malformed: {}", path, e.displayText()));
    }
    const auto& c = *s.raw;
    s.listen = c.getString("api.listen", s.listen);
    s.listen_port = get_int(c, "api.listen_port", s.listen_port, 0, 65535);
    s.pid_file = c.getString("api.pid_file", "");
    s.max_body = size_t(get_int(c, "api.max_body", int(s.max_body), 1024, 1 << 30));
    s.sync_timeout = get_int(c, "api.sync_timeout", s.sync_timeout, 1, 86400);
    s.http_threads = get_int(c, "api.threads", s.http_threads, 2, 4096);
    s.max_connections = get_int(c, "api.max_connections", s.max_connections, 4, 1 << 20);
    s.header_timeout = get_int(c, "api.header_timeout", s.header_timeout, 1, 3600);
    s.keepalive_timeout = get_int(c, "api.keepalive_timeout", s.keepalive_timeout, 1, 3600);
    s.request_timeout = get_int(c, "api.request_timeout", s.request_timeout, 1, 3600);
    s.handshake_timeout = get_int(c, "api.handshake_timeout", s.handshake_timeout, 1, 3600);
    s.auth_token = secret(c, "api.auth_token");

    s.executor = c.getString("runner.executor", s.executor);
    // Absent: one worker per CPU (EXEd's default). 0: no in-process workers,
    // an API-only process that leaves the jobs to `exed worker` processes.
    s.concurrency = get_int(c, "runner.concurrency",
                            int(std::max(1u, std::thread::hardware_concurrency())), 0, 1024);
    s.redis_url = Poco::trim(c.getString("runner.redis_url", s.redis_url));
    s.broker_url = c.getString("runner.broker_url", "");
    s.run_dir = c.getString("runner.run_dir", s.run_dir);
    s.job_ttl = get_int(c, "runner.job_ttl", s.job_ttl, 1, 365 * 86400);
    s.run_timeout = get_int(c, "runner.run_timeout", s.run_timeout, 1, 7 * 86400);
    s.lease = get_int(c, "runner.lease", s.lease, 2, 3600);
    s.cancel_grace = get_int(c, "runner.cancel_grace", s.cancel_grace, 0, 600);
    s.max_queued = get_int(c, "runner.max_queued", s.max_queued, 1, 10000000);
    s.job_secret = secret(c, "runner.job_secret");

    s.log_level = c.getString("log.log_level", s.log_level);
    static const char* levels[] = {"debug", "info", "information", "warning", "error", "critical"};
    if (std::find(std::begin(levels), std::end(levels), s.log_level) == std::end(levels))
        throw ConfigError(fmt::format("log.log_level: unknown level '{}'", s.log_level));
    s.error_log = c.getString("log.error_log", "");
    s.access_log = c.getString("log.access_log", "");

    s.plugin_dirs = c.hasProperty("plugins.dirs") ? split_list(c.getString("plugins.dirs"))
                                                  : default_plugin_dirs();
    s.plugin_isolation = c.getString("plugins.isolation", s.plugin_isolation);
    if (s.plugin_isolation != "process" && s.plugin_isolation != "in_process")
        throw ConfigError(fmt::format("plugins.isolation: '{}' is neither process nor in_process",
                                      s.plugin_isolation));
    return s;
}

}  // namespace exed
