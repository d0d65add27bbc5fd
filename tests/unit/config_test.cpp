// exe.conf parsing: spec defaults, validation, and redis_url forms.
#include "config.hpp"
#include "redis/url.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

using exed::ConfigError;
using exed::load_settings;
using exed::test::TempDir;

TEST_CASE("an empty config gives the spec's defaults") {
    TempDir d;
    auto s = load_settings(d.write("exe.conf", "; nothing set\n"));
    CHECK(s.listen == "127.0.0.1");
    CHECK(s.listen_port == 16808);
    CHECK(s.pid_file.empty());
    CHECK(s.executor == "ansible");
    CHECK(s.concurrency >= 1);
    CHECK(s.redis_url == "redis://127.0.0.1:6379");
    CHECK(s.log_level == "debug");
    CHECK(s.job_ttl == 7 * 24 * 3600);
    CHECK(s.plugin_dirs == exed::default_plugin_dirs());
}

TEST_CASE("sections are read and plugin sections become JSON") {
    TempDir d;
    auto s = load_settings(d.write("exe.conf", "[api]\nlisten = 0.0.0.0\nlisten_port = 1234\n"
                                               "[runner]\nconcurrency = 3\nbroker_url = amqp://x\n"
                                               "[ansible]\ninventory = hosts\nforks = 5\n"
                                               "[plugins]\ndirs = /a, /b\n"));
    CHECK(s.listen == "0.0.0.0");
    CHECK(s.listen_port == 1234);
    CHECK(s.concurrency == 3);
    CHECK(s.broker_url == "amqp://x");
    CHECK(s.section_json("ansible") == R"({"forks":"5","inventory":"hosts"})");
    CHECK(s.section_json("salt") == "{}");
    CHECK(s.plugin_dirs == std::vector<std::string>{"/a", "/b"});
}

TEST_CASE("a missing, malformed or out-of-range config is one clear error") {
    TempDir d;
    CHECK_THROWS_WITH_AS(load_settings(d.file("nope.conf")),
                         doctest::Contains("does not exist"), ConfigError);
    CHECK_THROWS_WITH_AS(load_settings(d.write("a.conf", "[api\nlisten = x\n")),
                         doctest::Contains("malformed at line 1"), ConfigError);
    CHECK_THROWS_WITH_AS(load_settings(d.write("b.conf", "[api]\nlisten_port = 99999\n")),
                         doctest::Contains("api.listen_port"), ConfigError);
    CHECK_THROWS_WITH_AS(load_settings(d.write("c.conf", "[api]\nlisten_port = abc\n")),
                         doctest::Contains("api.listen_port"), ConfigError);
    CHECK_THROWS_WITH_AS(load_settings(d.write("d.conf", "[log]\nlog_level = loud\n")),
                         doctest::Contains("log.log_level"), ConfigError);
}

TEST_CASE("redis_url forms") {
    using exed::redis::parse_url;
    CHECK(parse_url("").embedded);
    CHECK(parse_url("embedded").embedded);
    auto u = parse_url("redis://:s3cret@10.1.2.3:6380/2");
    CHECK(u.host == "10.1.2.3");
    CHECK(u.port == 6380);
    CHECK(u.password == "s3cret");
    CHECK(u.db == 2);
    CHECK(u.describe().find("s3cret") == std::string::npos);
    u = parse_url("redis://localhost");
    CHECK(u.port == 6379);
    CHECK(u.db == 0);
    u = parse_url("unix:///run/exed/redis.sock");
    CHECK(u.unix_socket);
    CHECK(u.path == "/run/exed/redis.sock");
    CHECK_THROWS_AS(parse_url("amqp://guest@x"), std::invalid_argument);
    CHECK_THROWS_AS(parse_url("redis://host/notanumber"), std::invalid_argument);
}

TEST_CASE("secrets can come from files") {
    TempDir d;
    std::string token = d.write("token", "  t0ken  \n");
    std::string key = d.write("key", "k3y\n");
    auto s = load_settings(d.write("exe.conf", "[api]\nauth_token_file = " + token +
                                               "\n[runner]\njob_secret_file = " + key + "\n"));
    CHECK(s.auth_token == "t0ken");
    CHECK(s.job_secret == "k3y");
    CHECK_THROWS_WITH_AS(load_settings(d.write("bad.conf", "[runner]\njob_secret_file = " +
                                                           d.file("none") + "\n")),
                         doctest::Contains("runner.job_secret_file"), ConfigError);
}
