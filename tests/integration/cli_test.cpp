// The exed program itself: flags, config errors, daemon mode, pid file,
// clean shutdown, and broken plugins refused while exed keeps serving.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <Poco/File.h>
#include <Poco/String.h>

#include <fstream>
#include <thread>

#include <signal.h>

using namespace exed::test;

TEST_CASE("--help and --version answer and exit 0") {
    ExedProcess p("");
    CHECK(p.run_to_exit({"--help"}) == 0);
    CHECK(p.log().find("--conf") != std::string::npos);
    CHECK(p.log().find("--daemon") != std::string::npos);
    CHECK(p.log().find("--exe-conf") != std::string::npos);
    ExedProcess v("");
    CHECK(v.run_to_exit({"-v"}) == 0);
    CHECK(v.log().find("exed 0.1.0 (plugin ABI 1.4)") != std::string::npos);
}

TEST_CASE("a missing or malformed config is one clear line and a non-zero exit") {
    ExedProcess p("");
    CHECK(p.run_to_exit({"-c", "/nonexistent/exe.conf"}) == 78);
    CHECK(p.log() == "exed: config file /nonexistent/exe.conf does not exist\n");

    ExedProcess bad("[api\nlisten_port = 1\n");
    CHECK(bad.run_to_exit({"-c", bad.conf_path()}) == 78);
    CHECK(bad.log().find("malformed at line 1") != std::string::npos);

    ExedProcess url("[runner]\nredis_url = amqp://nope\n");
    CHECK(url.run_to_exit({"-c", url.conf_path()}) == 78);
    CHECK(url.log().find("runner.redis_url") != std::string::npos);

    ExedProcess worker("[runner]\nredis_url = embedded\n");
    CHECK(worker.run_to_exit({"worker", "--exe-conf", worker.conf_path()}) == 78);
    CHECK(worker.log().find("needs a shared runner.redis_url") != std::string::npos);

    ExedProcess cmd("");
    CHECK(cmd.run_to_exit({"frobnicate"}) != 0);
    CHECK(cmd.log().find("unknown command 'frobnicate'") != std::string::npos);
}

TEST_CASE("embedded redis, pid file, and a clean SIGTERM shutdown") {
    ExedProcess p(test_config("embedded", "[api]\npid_file = @DIR@/exed.pid\n"));
    p.start();
    std::string pidfile = p.dir().file("exed.pid");
    std::ifstream in(pidfile);
    int pid = 0;
    in >> pid;
    CHECK(pid == p.pid());
    std::string jid = http("POST", p.port(), "/ping", R"({"targets":["node1"]})").object()->getValue<std::string>("jid");
    p.stop(SIGTERM);
    CHECK(p.exit_code() == 0);
    CHECK_FALSE(Poco::File(pidfile).exists());
    CHECK(p.log().find("shutting down") != std::string::npos);
    // The embedded redis stopped with it, and kept the job for the next start.
    CHECK_FALSE(Poco::File(p.dir().file("run/redis.pid")).exists());
    p.start();
    CHECK(http("GET", p.port(), "/jobs/" + jid).status == 200);
    p.stop(SIGINT);
    CHECK(p.exit_code() == 0);
}

TEST_CASE("a second exed on a port in use does not start (no shared SO_REUSEPORT listener)") {
    ExedProcess first(test_config("embedded"));
    first.start();
    // Same port, its own redis: with SO_REUSEPORT it would start and take
    // a share of the first one's clients.
    ExedProcess second(Poco::replace(test_config("embedded"), std::string("@PORT@"), std::to_string(first.port())));
    CHECK(second.run_to_exit({"-c", second.conf_path()}) != 0);
    CHECK(second.log().find("cannot listen on") != std::string::npos);
    CHECK(second.log().find("Address already in use") != std::string::npos);
    CHECK(http("GET", first.port(), "/health").status == 200);
}

TEST_CASE("-d runs exed as a daemon that writes its pid file") {
    ExedProcess p(test_config("embedded", "[api]\npid_file = @DIR@/exed.pid\n"));
    CHECK(p.run_to_exit({"-d", "-c", p.conf_path()}) == 0);  // the parent returns at once
    std::string pidfile = p.dir().file("exed.pid");
    int pid = 0;
    for (int i = 0; i < 100 && pid == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::ifstream in(pidfile);
        in >> pid;
    }
    REQUIRE(pid > 0);
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
        try {
            up = http("GET", p.port(), "/health", "", {}, 2).status == 200;
        } catch (...) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    CHECK(up);
    CHECK(Poco::File(p.dir().file("run/redis.sock")).exists());  // relative run_dir kept its meaning
    kill(pid, SIGTERM);
    for (int i = 0; i < 100 && Poco::File(pidfile).exists(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(Poco::File(pidfile).exists());
}

TEST_CASE("broken plugins are refused, one line each, and exed keeps serving") {
    SharedRedis redis;
    std::string dirs = test_plugin_dir("broken") + "," + test_plugin_dir("good") + "," + test_plugin_dir("dup");
    ExedProcess p(test_config(redis.url(), "", dirs));
    p.start();
    std::string log = p.log();
    for (const char* file : {"broken_abi_major.so", "broken_abi_minor.so", "broken_no_entry.so",
                             "broken_kind.so", "broken_init.so", "broken_missing_op.so",
                             "broken_short_table.so", "broken_secret_args.so", "test_executor_dup.so"}) {
        CAPTURE(file);
        size_t at = log.find(std::string("plugin refused: ") + test_plugin_dir("") );
        CHECK(at != std::string::npos);
        CHECK(log.find(std::string(file) + ": ") != std::string::npos);
    }
    auto plugins = http("GET", p.port(), "/plugins").json().extract<Poco::JSON::Array::Ptr>();
    CHECK(plugins->size() == 1);
    CHECK(http("GET", p.port(), "/ping?target=node1").status == 200);
}

TEST_CASE("an executor that is not loaded: operations answer 503, exed stays up") {
    SharedRedis redis;
    ExedProcess p(test_config(redis.url(), "[runner]\nexecutor = nonesuch\n"));
    p.start();
    auto r = http("GET", p.port(), "/ping?target=node1");
    CHECK(r.status == 503);
    CHECK(r.message().find("executor plugin 'nonesuch' is not loaded") != std::string::npos);
    CHECK(http("GET", p.port(), "/health").status == 503);
    CHECK(http("GET", p.port(), "/jobs").status == 200);
}
