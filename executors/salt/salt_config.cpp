#include "salt_config.hpp"

#include "salt_json.hpp"

#include <exed/sdk.hpp>

#include <Poco/NumberParser.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <fstream>
#include <sstream>

namespace exed::salt {

namespace {

std::string opt(const Object::Ptr& cfg, const std::string& key, const std::string& dflt) {
    if (!cfg->has(key) || cfg->get(key).isEmpty()) return dflt;
    return Poco::trim(cfg->get(key).toString());
}

int int_opt(const Object::Ptr& cfg, const std::string& key, int dflt, int min) {
    std::string v = opt(cfg, key, "");
    if (v.empty()) return dflt;
    int out = 0;
    if (!Poco::NumberParser::tryParse(v, out) || out < min)
        throw Error("[salt] " + key + " must be an integer >= " + std::to_string(min) +
                    ", got '" + v + "'");
    return out;
}

double double_opt(const Object::Ptr& cfg, const std::string& key, double dflt) {
    std::string v = opt(cfg, key, "");
    if (v.empty()) return dflt;
    double out = 0;
    if (!Poco::NumberParser::tryParseFloat(v, out) || out < 0)
        throw Error("[salt] " + key + " must be a number >= 0, got '" + v + "'");
    return out;
}

bool bool_opt(const Object::Ptr& cfg, const std::string& key, bool dflt) {
    std::string v = Poco::toLower(opt(cfg, key, ""));
    if (v.empty()) return dflt;
    if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
    if (v == "0" || v == "false" || v == "no" || v == "off") return false;
    throw Error("[salt] " + key + " must be true or false, got '" + v + "'");
}

std::string read_password_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error("[salt] password_file " + path + " cannot be read");
    std::string line;
    std::getline(in, line);  // the first line; a trailing newline is not part of it
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

}  // namespace

SaltConfig parse_config(const std::string& config_json) {
    Object::Ptr cfg;
    try {
        cfg = parse_object(config_json, "[salt] config");
    } catch (const BadInput& e) {
        throw Error(e.what());  // a bad config refuses the plugin, it is no request error
    }
    SaltConfig c;
    c.api_url = opt(cfg, "api_url", c.api_url);
    Poco::URI uri;
    try {
        uri = Poco::URI(c.api_url);
    } catch (const Poco::Exception& e) {
        throw Error("[salt] api_url '" + c.api_url + "' is not a URL: " + e.displayText());
    }
    if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty())
        throw Error("[salt] api_url must be http://host:port or https://host:port, got '" +
                    c.api_url + "'");
    while (!c.api_url.empty() && c.api_url.back() == '/') c.api_url.pop_back();

    c.username = opt(cfg, "username", "");
    c.password = opt(cfg, "password", "");
    std::string pwfile = opt(cfg, "password_file", "");
    if (!pwfile.empty()) {
        if (!c.password.empty())
            throw Error("[salt] set password or password_file, not both");
        c.password = read_password_file(pwfile);
    }
    if (c.username.empty()) throw Error("[salt] username is required");
    c.eauth = opt(cfg, "eauth", c.eauth);
    c.timeout = int_opt(cfg, "timeout", c.timeout, 1);
    c.connect_timeout = int_opt(cfg, "connect_timeout", c.connect_timeout, 1);
    c.request_timeout = int_opt(cfg, "request_timeout", c.request_timeout, 0);
    c.verify_tls = bool_opt(cfg, "verify_tls", c.verify_tls);
    c.batch = opt(cfg, "batch", "");
    if (!c.batch.empty()) {
        std::string n = c.batch.back() == '%' ? c.batch.substr(0, c.batch.size() - 1) : c.batch;
        int v = 0;
        if (!Poco::NumberParser::tryParse(n, v) || v < 1 ||
            (c.batch.back() == '%' && v > 100))
            throw Error("[salt] batch must be a count (e.g. 10) or a percentage (e.g. 25%), got '" +
                        c.batch + "'");
    }
    c.poll_interval = double_opt(cfg, "poll_interval", c.poll_interval);
    if (c.poll_interval < 0.05) c.poll_interval = 0.05;
    c.targets_cache = double_opt(cfg, "targets_cache", c.targets_cache);
    c.use_events = bool_opt(cfg, "use_events", c.use_events);
    return c;
}

size_t batch_size(const std::string& batch, size_t total) {
    if (batch.empty() || total == 0) return 0;
    if (batch.back() == '%') {
        size_t pct = std::stoul(batch.substr(0, batch.size() - 1));
        size_t n = (total * pct + 99) / 100;  // ceil, as salt does
        return n == 0 ? 1 : n;
    }
    return std::stoul(batch);
}

}  // namespace exed::salt
