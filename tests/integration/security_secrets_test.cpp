// Secrets, file modes, audit and access logs against a real exed with its
// embedded Redis, started under umask 000.
#include "security_support.hpp"

#include "jobs/keys.hpp"
#include "jobs/model.hpp"
#include "json.hpp"

#include <Poco/File.h>
#include <Poco/RecursiveDirectoryIterator.h>

#include <fstream>
#include <sstream>

#include <sys/stat.h>

using namespace exed::test;
using namespace exed;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// Every value under every exed key, as text, by key.
std::map<std::string, std::string> redis_dump(redis::Pool& pool) {
    std::map<std::string, std::string> out;
    redis::Command keys("KEYS");
    keys << "*";
    for (auto& k : pool.run(keys).items) {
        std::string key = k.text(), type;
        redis::Command t("TYPE");
        t << key;
        type = pool.run(t).text();
        std::function<void(const redis::Reply&)> add = [&](const redis::Reply& r) {
            out[key] += r.text() + "\n";
            for (auto& i : r.items) add(i);
        };
        redis::Command read(type == "hash" ? "HGETALL" : type == "stream" ? "XRANGE" : type == "zset" ? "ZRANGE"
                            : type == "list"                                                  ? "LRANGE"
                                                                                              : "GET");
        read << key;
        if (type == "stream") read << "-" << "+";
        if (type == "zset" || type == "list") read << "0" << "-1";
        if (type == "string" || type == "hash" || type == "stream" || type == "zset" || type == "list")
            add(pool.run(read));
    }
    return out;
}

struct Audited {
    TempDir logs;
    Token admin = make_token("ops", "admin", "*");
    Token runner = make_token("web-team", "read,run,deploy", "web*");
    ExedProcess exed;
    mode_t old_umask;
    Audited()
        : exed(test_config("embedded",
                           "[api]\ntokens_file = @DIR@/tokens\nsecret_args = cmd, extra_opts.token\n"
                           "[log]\naudit_max = 4\naudit_log = " + logs.file("audit.log") +
                               "\nerror_log = " + logs.file("error.log") + "\naccess_log = " + logs.file("access.log") + "\n")) {
        exed.dir().write("tokens", admin.line + "\n" + runner.line + "\n");
        old_umask = umask(0);  // exed must not depend on a careful umask
        exed.start();
        umask(old_umask);
    }
    HttpResponse post(const std::string& p, const std::string& b, const Token& t) {
        return http("POST", exed.port(), p, b, bearer(t));
    }
    HttpResponse get(const std::string& p, const Token& t) { return http("GET", exed.port(), p, "", bearer(t)); }
    std::string finish(const std::string& jid) {
        LineStream follow(exed.port(), "/jobs/" + jid + "?follow=1", bearer(admin));
        std::string line, all;
        while (follow.next(line)) all += line + "\n";
        return all;
    }
};

}  // namespace

TEST_CASE("extra_vars and secret_args are \"***\" in every job read, and only in the job record in Redis") {
    Audited a;
    auto r = a.post("/deploy", R"({"targets":["web1"],"role":"app","extra_vars":{"db_password":"hunter2","n":{"k":"v-secret"}}})", a.runner);
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    std::string stream = a.finish(jid);
    CHECK(stream.find("hunter2") == std::string::npos);
    CHECK(stream.find(R"("db_password":"***")") != std::string::npos);
    for (const std::string& read : {"/jobs/" + jid, "/jobs/" + jid + "?outputs=1", std::string("/jobs?detail=1")}) {
        auto body = a.get(read, a.runner).body;
        CHECK_MESSAGE(body.find("hunter2") == std::string::npos, read);
        CHECK_MESSAGE(body.find("v-secret") == std::string::npos, read);
        CHECK_MESSAGE(body.find(R"("extra_vars":{"db_password":"***","n":"***"})") != std::string::npos, body);
    }
    auto job = a.get("/jobs/" + jid, a.runner).object();
    CHECK(job->getObject("operate_args")->getValue<std::string>("role") == "app");  // not a secret

    // A plugin argument named in [api] secret_args: execute's cmd.
    r = a.post("/execute", R"({"targets":["web1"],"cmd":"echo s3cr3t-cmd"})", a.runner);
    REQUIRE(r.status == 201);
    std::string jid2 = r.object()->getValue<std::string>("jid");
    CHECK(a.finish(jid2).find("s3cr3t-cmd\"") == std::string::npos);
    CHECK(a.get("/jobs/" + jid2, a.runner).object()->getObject("operate_args")->getValue<std::string>("cmd") == "***");
    // The same argument in a GET sync query is masked in the access log.
    CHECK(a.get("/execute?target=web1&cmd=" + q("echo q-s3cr3t"), a.runner).status == 200);

    // Stored only where the worker needs it: the job record.
    redis::Pool pool(redis::Url::unix_socket_at(a.exed.dir().file("run/redis.sock")), 2);
    for (auto& [key, text] : redis_dump(pool))
        CHECK_MESSAGE((text.find("hunter2") == std::string::npos || key == jobs::keys::job(jid)), key);
    a.exed.stop();
    CHECK_MESSAGE(slurp(a.logs.file("access.log")).find("GET /execute?target=web1&cmd=%2A%2A%2A ") != std::string::npos,
                  slurp(a.logs.file("access.log")));
    for (auto log : {"audit.log", "error.log", "access.log"}) {
        CHECK_MESSAGE(slurp(a.logs.file(log)).find("q-s3cr3t") == std::string::npos, log);
        CHECK_MESSAGE(slurp(a.logs.file(log)).find("hunter2") == std::string::npos, log);
        CHECK_MESSAGE(slurp(a.logs.file(log)).find(a.admin.secret) == std::string::npos, log);
        CHECK_MESSAGE(slurp(a.logs.file(log)).find(a.runner.secret) == std::string::npos, log);
    }
}

TEST_CASE("an argument the plugin marks secret (SDK 1.2 secret_args) is \"***\" in job reads and logs, with no [api] secret_args") {
    TempDir logs;
    ExedProcess exed(test_config("embedded",
                                 "[log]\naudit_log = " + logs.file("audit.log") + "\nerror_log = " +
                                     logs.file("error.log") + "\naccess_log = " + logs.file("access.log") + "\n",
                                 test_plugin_dir("secret")));
    exed.start();
    auto plugins = http("GET", exed.port(), "/plugins").json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(plugins->size() == 1);
    auto declared = plugins->getObject(0)->getArray("secret_args");
    REQUIRE(declared->size() == 1);
    CHECK(declared->getElement<std::string>(0) == "cmd");

    auto r = http("POST", exed.port(), "/execute", R"({"targets":["node1"],"cmd":"echo plug-s3cr3t"})");
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    LineStream follow(exed.port(), "/jobs/" + jid + "?follow=1");
    std::string line, stream;
    while (follow.next(line)) stream += line + "\n";
    CHECK(stream.find("\"cmd\":\"***\"") != std::string::npos);
    CHECK(stream.find("echo plug-s3cr3t") == std::string::npos);
    for (const std::string& read : {"/jobs/" + jid, std::string("/jobs?detail=1")}) {
        auto body = http("GET", exed.port(), read).body;
        CHECK_MESSAGE(body.find("echo plug-s3cr3t") == std::string::npos, read);
        CHECK_MESSAGE(body.find("\"cmd\":\"***\"") != std::string::npos, body);
    }
    // The worker still got the real command: its output is the job's.
    CHECK(stream.find("plug-s3cr3t\\n") != std::string::npos);
    CHECK(http("GET", exed.port(), "/execute?target=node1&cmd=" + q("echo q-plug-s3cr3t")).status == 200);
    exed.stop();
    CHECK(slurp(logs.file("access.log")).find("GET /execute?target=node1&cmd=%2A%2A%2A ") != std::string::npos);
    for (auto log : {"audit.log", "error.log", "access.log"}) {
        CHECK_MESSAGE(slurp(logs.file(log)).find("echo plug-s3cr3t") == std::string::npos, log);
        CHECK_MESSAGE(slurp(logs.file(log)).find("q-plug-s3cr3t") == std::string::npos, log);
    }
}

TEST_CASE("run_dir is 0700 and the AOF, keys and logs are private whatever the umask") {
    Audited a;
    a.post("/ping", R"({"targets":["web1"]})", a.runner);
    std::string run = a.exed.dir().file("run");
    CHECK(mode_of(run) == 0700);
    int files = 0;
    for (Poco::RecursiveDirectoryIterator it(run), end; it != end; ++it) {
        if (it->isLink()) continue;
        mode_t m = mode_of(it->path());
        CHECK_MESSAGE((m & 027) == 0, it->path() << " has mode " << m);
        ++files;
    }
    CHECK(files > 0);
    CHECK(Poco::File(run + "/appendonlydir").exists());
    for (auto log : {"audit.log", "error.log", "access.log"}) CHECK_MESSAGE(mode_of(a.logs.file(log)) == 0640, log);
}

TEST_CASE("access_log gets the request lines, the error log does not") {
    Audited a;
    a.get("/jobs?limit=7", a.admin);
    a.exed.stop();
    CHECK(slurp(a.logs.file("access.log")).find("\"GET /jobs?limit=7 HTTP/1.1\" 200") != std::string::npos);
    CHECK(slurp(a.logs.file("error.log")).find("/jobs?limit=7") == std::string::npos);
    CHECK(slurp(a.logs.file("error.log")).find("listening on") != std::string::npos);
}

TEST_CASE("audit: one JSON line per changing or running request, also at GET /audit for admin") {
    Audited a;
    auto r = a.post("/ping", R"({"targets":["web*"]})", a.runner);
    REQUIRE(r.status == 201);
    std::string jid = r.object()->getValue<std::string>("jid");
    a.get("/jobs", a.runner);                                                       // a read: not audited
    CHECK(a.post("/ping", R"({"targets":["node1"]})", a.runner).status == 403);   // refused: audited
    CHECK(http("POST", a.exed.port(), "/ping", R"({"targets":["web1"]})").status == 401);
    a.finish(jid);  // the ping holds web1 until it ends
    CHECK(a.get("/execute?target=web1&cmd=id", a.admin).status == 200);           // GET sync runs: audited

    std::vector<Poco::JSON::Object::Ptr> lines;
    std::istringstream in(slurp(a.logs.file("audit.log")));
    for (std::string l; std::getline(in, l);) lines.push_back(exed::parse_json(l).extract<Poco::JSON::Object::Ptr>());
    REQUIRE(lines.size() == 4);
    auto first = lines[0];
    CHECK(first->getValue<std::string>("token") == "web-team");
    CHECK(first->getValue<std::string>("remote") == "127.0.0.1");
    CHECK(first->getValue<std::string>("method") == "POST");
    CHECK(first->getValue<std::string>("path") == "/ping");
    CHECK(first->getValue<std::string>("operation") == "ping");
    CHECK(exed::json_string(first->get("targets")) == R"(["web1","web2"])");
    CHECK(first->getValue<std::string>("jid") == jid);
    CHECK(first->getValue<int>("status") == 201);
    CHECK(!first->getValue<std::string>("time").empty());
    CHECK(lines[1]->getValue<int>("status") == 403);
    CHECK(lines[2]->getValue<int>("status") == 401);
    CHECK(lines[2]->isNull("token"));
    CHECK(lines[3]->getValue<std::string>("path") == "/execute");  // never the query (it may carry secrets)
    CHECK(exed::json_string(lines[3]->get("targets")) == R"(["web1"])");

    // The stream is capped at [log] audit_max = 4, newest first.
    CHECK(a.post("/ping", R"({"targets":["web1"]})", a.runner).status == 201);
    auto recent = a.get("/audit?limit=100", a.admin).json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(recent->size() == 4);
    CHECK(recent->getObject(0)->getValue<int>("status") == 201);
    CHECK(recent->getObject(1)->getValue<std::string>("path") == "/execute");
    CHECK(a.get("/audit?limit=1", a.admin).json().extract<Poco::JSON::Array::Ptr>()->size() == 1);
    CHECK(a.get("/audit?limit=0", a.admin).status == 400);
    CHECK(a.get("/audit", a.runner).status == 403);
}
