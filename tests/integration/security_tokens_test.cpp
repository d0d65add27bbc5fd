// Tokens, scopes and target ACLs against a real exed with a tokens file:
// 401/403, ACLs on expanded targets before any job exists, job reads
// filtered by the caller's patterns, admin-only routes, the legacy
// auth_token, reloads (SIGHUP, mtime) and tokens of any length.
#include "security_support.hpp"

#include <Poco/Process.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>

using namespace exed::test;

namespace {

struct Fleet {
    SharedRedis redis;
    Token admin = make_token("ops", "admin", "*");
    Token reader = make_token("viewer", "read", "*");
    Token web = make_token("web-team", "read,run", "web*");
    Token nodes = make_token("node-team", "read,run", "node1,node2");
    ExedProcess exed;
    explicit Fleet(const std::string& extra = "") : exed(token_config(redis.url(), extra)) {
        write_tokens({admin, reader, web, nodes});
        exed.start();
    }
    void write_tokens(const std::vector<Token>& tokens) {
        std::ofstream out(exed.dir().file("tokens"), std::ios::trunc);
        out << "# name sha256 scopes targets\n";
        for (auto& t : tokens) out << t.line << "\n";
    }
    HttpResponse get(const std::string& p, const Token& t) { return http("GET", exed.port(), p, "", bearer(t)); }
    HttpResponse post(const std::string& p, const std::string& b, const Token& t) {
        return http("POST", exed.port(), p, b, bearer(t));
    }
    std::string wait_job(const std::string& jid) {
        LineStream follow(exed.port(), "/jobs/" + jid + "?follow=1", bearer(admin));
        std::string line, last;
        while (follow.next(line)) last = line;
        return last;
    }
};

std::string sha256_cli(const std::string& text) {
    std::string cmd = "printf %s '" + text + "' | sha256sum";
    FILE* p = popen(cmd.c_str(), "r");
    char buf[128] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    pclose(p);
    return std::string(buf, n).substr(0, 64);
}

}  // namespace

TEST_CASE("exed token prints a token and a tokens-file line holding only its SHA-256") {
    std::vector<std::string> lines;
    REQUIRE(exed_token_cli("deployer --scopes 'read, deploy' --targets 'web*,db1'", lines) == 0);
    REQUIRE(lines.size() == 2);
    const std::string& token = lines[0];
    CHECK(token.size() >= 40);
    CHECK(lines[1] == "deployer " + sha256_cli(token) + " read,deploy web*,db1");
    CHECK(lines[1].find(token) == std::string::npos);
    std::vector<std::string> again;
    REQUIRE(exed_token_cli("deployer --scopes read --targets '*'", again) == 0);
    CHECK(again[0] != token);  // random each time

    std::vector<std::string> none;
    CHECK(exed_token_cli("x --scopes root --targets '*'", none) == 64);
    CHECK(exed_token_cli("'bad name' --scopes read --targets '*'", none) == 64);
    CHECK(exed_token_cli("x --scopes read", none) == 64);
    CHECK(none.empty());
}

TEST_CASE("no token is 401, a missing scope 403, the right scope runs") {
    Fleet f;
    auto r = http("GET", f.exed.port(), "/ping?target=node1");
    CHECK(r.status == 401);
    CHECK(r.header("WWW-Authenticate") == "Bearer");
    r = f.get("/ping?target=node1", f.reader);
    CHECK(r.status == 403);
    CHECK(r.message().find("'run' scope") != std::string::npos);
    r = f.post("/deploy", R"({"targets":["node1"],"role":"r"})", f.nodes);
    CHECK(r.status == 403);
    CHECK(r.message().find("'deploy' scope") != std::string::npos);
    CHECK(f.get("/jobs", f.reader).status == 200);
    CHECK(f.get("/ping?target=node1", f.nodes).status == 200);
    CHECK(f.get("/ping?target=node1", f.admin).status == 200);
    // /health stays open for probes; it tells nothing about jobs or hosts.
    CHECK(http("GET", f.exed.port(), "/health").status == 200);
}

TEST_CASE("expanded targets outside the token's patterns are refused before any job exists") {
    Fleet f;
    auto r = f.post("/execute", R"({"targets":["node1","web1"],"cmd":"id"})", f.web);
    CHECK(r.status == 403);
    CHECK(r.message() == "token 'web-team' may not act on: node1");
    // A pattern is judged by what it expands to: node* reaches node3.
    r = f.get("/ping?target=node*", f.nodes);
    CHECK(r.status == 403);
    CHECK(r.message() == "token 'node-team' may not act on: node3");
    r = f.get("/ping?target=*", f.web);
    CHECK(r.status == 403);
    CHECK(f.get("/jobs", f.admin).body == "[]");  // nothing was created

    CHECK(f.post("/ping", R"({"targets":["web*"]})", f.web).status == 201);
    CHECK(f.get("/ping?target=node1,node2", f.nodes).status == 200);
    // Listings show only what the caller may see.
    CHECK(f.get("/targets", f.web).body == R"(["web1","web2"])");
    CHECK(f.get("/targets", f.reader).body == R"(["node1","node2","node3","web1","web2"])");
}

TEST_CASE("job reads show only jobs within the caller's patterns") {
    Fleet f;
    auto submit = [&](const std::string& body, const Token& t) {
        auto r = f.post("/ping", body, t);
        REQUIRE_MESSAGE(r.status == 201, r.body);
        std::string jid = r.object()->getValue<std::string>("jid");
        f.wait_job(jid);  // the next one may lock the same host
        return jid;
    };
    std::string on_node = submit(R"({"targets":["node1"]})", f.admin);
    std::string on_web = submit(R"({"targets":["web1"]})", f.web);
    std::string on_both = submit(R"({"targets":["node2","web1"]})", f.admin);

    CHECK(f.get("/jobs", f.web).body == "[\"" + on_web + "\"]");
    CHECK(f.get("/jobs", f.nodes).body == "[\"" + on_node + "\"]");
    auto detail = f.get("/jobs?detail=1", f.web).json().extract<Poco::JSON::Array::Ptr>();
    REQUIRE(detail->size() == 1);
    CHECK(detail->getObject(0)->getValue<std::string>("jid") == on_web);
    CHECK(f.get("/jobs", f.admin).json().extract<Poco::JSON::Array::Ptr>()->size() == 3);
    CHECK(f.get("/jobs", f.reader).json().extract<Poco::JSON::Array::Ptr>()->size() == 3);

    CHECK(f.get("/jobs/" + on_node, f.web).status == 404);
    CHECK(f.get("/jobs/" + on_both, f.web).status == 404);
    CHECK(f.get("/jobs/" + on_node + "?follow=1", f.web).status == 404);
    CHECK(f.get("/jobs/" + on_web + "?outputs=1", f.web).status == 200);
    CHECK(http("DELETE", f.exed.port(), "/jobs/" + on_node, "", bearer(f.web)).status == 404);
    CHECK(http("DELETE", f.exed.port(), "/jobs/" + on_node, "", bearer(f.reader)).status == 403);
    CHECK(http("DELETE", f.exed.port(), "/jobs/" + on_web, "", bearer(f.web)).status == 204);
}

TEST_CASE("only admin reads /plugins and /audit") {
    Fleet f;
    CHECK(f.get("/plugins", f.reader).status == 403);
    CHECK(f.get("/plugins", f.web).status == 403);
    CHECK(f.get("/audit", f.reader).status == 403);
    CHECK(f.get("/plugins", f.admin).status == 200);
    CHECK(f.get("/audit", f.admin).status == 200);
}

TEST_CASE("only admin lists and changes agent nodes (/nodes)") {
    Fleet f;
    CHECK(f.get("/nodes", f.reader).status == 403);
    CHECK(f.get("/nodes", f.web).status == 403);
    CHECK(http("POST", f.exed.port(), "/nodes/web1/accept", "", bearer(f.web)).status == 403);
    CHECK(http("DELETE", f.exed.port(), "/nodes/web1", "", bearer(f.reader)).status == 403);
    auto listed = f.get("/nodes", f.admin);
    CHECK(listed.status == 200);
    CHECK(listed.body == "[]");
    CHECK(http("POST", f.exed.port(), "/nodes/web1/accept", "", bearer(f.admin)).status == 404);  // no such node yet
}

TEST_CASE("the old auth_token keeps working, as an admin token") {
    Fleet f("auth_token = legacy-secret\n");
    std::map<std::string, std::string> legacy = {{"Authorization", "Bearer legacy-secret"}};
    CHECK(http("GET", f.exed.port(), "/plugins", "", legacy).status == 200);
    CHECK(http("GET", f.exed.port(), "/ping?target=*", "", legacy).status == 200);
    CHECK(f.get("/plugins", f.admin).status == 200);
    CHECK(f.get("/plugins", f.reader).status == 403);
}

TEST_CASE("tokens of any other length or content never match") {
    Fleet f;
    const std::string& s = f.admin.secret;
    for (const std::string& wrong : {s.substr(0, s.size() - 1), s + "x", std::string(""), std::string("x"),
                                     std::string(4000, 'a'), f.admin.line.substr(f.admin.name.size() + 1, 64)}) {
        auto r = http("GET", f.exed.port(), "/jobs", "", {{"Authorization", "Bearer " + wrong}});
        CHECK_MESSAGE(r.status == 401, wrong.substr(0, 20));
    }
    CHECK(http("GET", f.exed.port(), "/jobs", "", {{"Authorization", "Basic " + s}}).status == 401);
}

TEST_CASE("the tokens file reloads on SIGHUP and when it changes, keeping the old table if bad") {
    Fleet f;
    std::string path = f.exed.dir().file("tokens");
    // Same size and inode, and the old mtime put back: only SIGHUP can tell.
    Token rotated = make_token("viewer", "read", "*");
    struct stat before {};
    REQUIRE(stat(path.c_str(), &before) == 0);
    f.write_tokens({f.admin, rotated, f.web, f.nodes});
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    CHECK(f.get("/jobs", rotated).status == 401);
    CHECK(f.get("/jobs", f.reader).status == 200);
    REQUIRE(kill(f.exed.pid(), SIGHUP) == 0);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (f.get("/jobs", rotated).status != 200 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(f.get("/jobs", rotated).status == 200);
    CHECK(f.get("/jobs", f.reader).status == 401);  // the old viewer token is gone
    CHECK(f.exed.alive());

    // An ordinary edit is picked up from the file's mtime, no signal.
    Token added = make_token("late", "read", "*");
    f.write_tokens({f.admin, rotated, f.web, f.nodes, added});
    until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (f.get("/jobs", added).status != 200 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(f.get("/jobs", added).status == 200);

    // A broken file is refused and logged; the previous tokens stay.
    { std::ofstream(path, std::ios::trunc) << "late not-a-hash read *\n"; }
    kill(f.exed.pid(), SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(f.get("/jobs", added).status == 200);
    until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (f.exed.log().find("keeping the previous tokens") == std::string::npos &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(f.exed.log().find("line 1: the second field must be 64 hex digits") != std::string::npos);
}

TEST_CASE("a tokens file that does not parse stops exed at start (78)") {
    SharedRedis redis;
    ExedProcess exed(token_config(redis.url()));
    exed.dir().write("tokens", "ops 1234 admin *\n");
    CHECK(exed.run_to_exit({"-c", exed.conf_path()}) == 78);
    CHECK(exed.log().find("line 1") != std::string::npos);
    ExedProcess bad_scope(token_config(redis.url()));
    bad_scope.dir().write("tokens", make_token("ops", "admin", "*").line + "\nx " + std::string(64, 'a') + " sudo *\n");
    CHECK(bad_scope.run_to_exit({"-c", bad_scope.conf_path()}) == 78);
    CHECK(bad_scope.log().find("unknown scope 'sudo'") != std::string::npos);
}
