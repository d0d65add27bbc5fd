// exectl against a real exed (test executor plugin, real redis-server):
// output when piped and on a pseudo-terminal (util-linux `script`), exit
// codes, settings precedence, argv quoting as shlex reads it, completion.
#include "support/fixtures.hpp"
#include "support/http_client.hpp"

#include <doctest/doctest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include <chrono>
#include <thread>

using namespace exed::test;

namespace {

struct Run {
    int code = -1;
    std::string out, err;
};

std::string exectl_binary() { return std::string(EXED_BUILD_DIR) + "/core/exectl/exectl"; }

// Runs `program args` with `env` added; HOME is a fresh dir unless given,
// so no user's exectl.conf leaks in.
Run run(const std::string& program, const std::vector<std::string>& args,
        Poco::Process::Env env = {}) {
    static TempDir home;
    if (!env.count("HOME")) env["HOME"] = home.path();
    env.emplace("EXED_URL", "");
    env.emplace("EXED_TOKEN", "");
    env.emplace("EXED_TOKEN_FILE", "");
    env.emplace("XDG_CONFIG_HOME", "");
    Poco::Pipe out, err;
    auto h = Poco::Process::launch(program, args, "/", nullptr, &out, &err, env);
    Poco::PipeInputStream os(out), es(err);
    Run r;
    Poco::StreamCopier::copyToString(os, r.out);
    Poco::StreamCopier::copyToString(es, r.err);
    r.code = h.wait();
    return r;
}

Run exectl(int port, std::vector<std::string> args, Poco::Process::Env env = {}) {
    args.insert(args.begin(), {"--url", "http://127.0.0.1:" + std::to_string(port)});
    return run(exectl_binary(), args, std::move(env));
}

// The same under a pseudo-terminal: `script` gives exectl a tty as stdout.
Run exectl_tty(int port, const std::string& args, Poco::Process::Env env = {}) {
    std::string cmd = exectl_binary() + " --url http://127.0.0.1:" + std::to_string(port) + " " + args;
    return run("script", {"-qefc", cmd, "/dev/null"}, std::move(env));
}

Poco::JSON::Object::Ptr obj(const std::string& s) {
    return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

TEST_CASE("exectl: piped operations print the job record (exit 0 all ok, 1 a host failed)") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url()));
    exed.start();
    auto ok = exectl(exed.port(), {"ping", "node1,node2"});
    CHECK(ok.code == 0);
    CHECK(ok.err.empty());
    auto rec = obj(ok.out);
    CHECK(rec->getValue<std::string>("status") == "done");
    CHECK(rec->getObject("return_data")->size() == 2);

    auto down = exectl(exed.port(), {"ping", "node1,web2"});
    CHECK(down.code == 1);
    CHECK(obj(down.out)->getObject("return_data")->getObject("web2")->getValue<int>("status") == 3);

    auto ex = exectl(exed.port(), {"execute", "node1", "--", "echo", "hello"});
    CHECK(ex.code == 0);
    CHECK(obj(ex.out)->getObject("return_data")->getObject("node1")->getValue<std::string>("stdout") == "hello\n");
    auto fail = exectl(exed.port(), {"execute", "node1", "--", "false"});
    CHECK(fail.code == 1);

    auto t = exectl(exed.port(), {"target", "web*"});
    CHECK(t.code == 0);
    CHECK(t.out == "[\"web1\",\"web2\"]\n");
    auto f = exectl(exed.port(), {"facter", "node2", "--json"});
    CHECK(f.code == 0);
    CHECK(obj(f.out)->getValue<std::string>("operate") == "facter");
    auto svc = exectl(exed.port(), {"service", "node1", "nginx", "restart", "--graceful"});
    CHECK(svc.code == 0);
    auto args = obj(svc.out)->getObject("operate_args");
    CHECK(args->getValue<int>("state") == 2);
    CHECK(args->getValue<bool>("graceful"));
}

TEST_CASE("exectl: --async, job, job --follow (NDJSON), jobs --limit, cancel") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url()));
    exed.start();
    auto a = exectl(exed.port(), {"execute", "node3", "--async", "--", "sleep", "30"});
    REQUIRE(a.code == 0);
    std::string jid = obj(a.out)->getValue<std::string>("jid");
    auto jobs = exectl(exed.port(), {"jobs", "--limit", "1"});
    CHECK(jobs.code == 0);
    auto list = Poco::JSON::Parser().parse(jobs.out).extract<Poco::JSON::Array::Ptr>();
    REQUIRE(list->size() == 1);
    CHECK(list->getObject(0)->getValue<std::string>("jid") == jid);

    auto c = exectl(exed.port(), {"cancel", jid});
    CHECK(c.code == 0);
    CHECK(obj(c.out)->getValue<std::string>("jid") == jid);
    auto follow = exectl(exed.port(), {"job", jid, "--follow"});
    CHECK(follow.code == 1);  // cancelled
    std::istringstream lines(follow.out);
    std::string line, first, last;
    while (std::getline(lines, line)) {
        if (first.empty()) first = line;
        last = line;
    }
    CHECK(obj(first)->getValue<std::string>("event") == "job");
    CHECK(obj(last)->getValue<std::string>("event") == "end");
    CHECK(obj(last)->getObject("data")->getValue<std::string>("status") == "cancelled");
    auto show = exectl(exed.port(), {"job", jid});
    CHECK(show.code == 1);
    CHECK(obj(show.out)->getValue<std::string>("status") == "cancelled");
    CHECK(exectl(exed.port(), {"cancel", jid}).code == 1);  // 409: already ended
}

TEST_CASE("exectl: usage errors exit 2, unreachable or refused exit 3, one line each") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url(), "[api]\nauth_token = s3cret\n"));
    exed.start();
    auto tok = std::string("--token=s3cret");
    for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
             {},
             {"frobnicate"},
             {"ping"},
             {"ping", "node1", "--limit", "3"},
             {"execute", "node1"},
             {"service", "node1", "nginx", "sideways"},
             {"deploy", "node1", "web", "--extra-vars", "[1]"},
             {"jobs", "--limit"},
             {"ping", "nosuchhost", tok}}) {  // exed's 400 about the request
        CAPTURE(bad);
        auto r = exectl(exed.port(), bad);
        CHECK(r.code == 2);
        CHECK(r.out.empty());
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    int closed = free_port();
    auto gone = run(exectl_binary(), {"--url", "http://127.0.0.1:" + std::to_string(closed), "jobs"});
    CHECK(gone.code == 3);
    CHECK(gone.err.find("cannot reach exed") != std::string::npos);
    CHECK(std::count(gone.err.begin(), gone.err.end(), '\n') == 1);
    auto refused = exectl(exed.port(), {"jobs"});
    CHECK(refused.code == 3);
    CHECK(refused.err.find("(401)") != std::string::npos);
    CHECK(exectl(exed.port(), {"jobs", tok}).code == 0);
}

TEST_CASE("exectl: url and token from flags, EXED_* and ~/.config/exed/exectl.conf, in that order") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url(), "[api]\nauth_token = s3cret\n"));
    exed.start();
    std::string url = "http://127.0.0.1:" + std::to_string(exed.port());
    std::string wrong = "http://127.0.0.1:" + std::to_string(free_port());
    TempDir home;
    home.write("token", "s3cret\n");
    CHECK(run(exectl_binary(), {"jobs"}, {{"EXED_URL", url}, {"EXED_TOKEN", "s3cret"}}).code == 0);
    CHECK(run(exectl_binary(), {"jobs"}, {{"EXED_URL", url}, {"EXED_TOKEN_FILE", home.file("token")}}).code == 0);
    CHECK(run(exectl_binary(), {"jobs"}, {{"EXED_URL", url}, {"EXED_TOKEN", "nope"}}).code == 3);
    CHECK(run(exectl_binary(), {"--url", url, "jobs"}, {{"EXED_URL", wrong}, {"EXED_TOKEN", "s3cret"}}).code == 0);
    CHECK(run(exectl_binary(), {"jobs"}, {{"EXED_URL", url}, {"EXED_TOKEN_FILE", home.file("none")}}).code == 2);
    // The config file: read when nothing else says.
    CHECK(system(("mkdir -p " + home.path() + "/.config/exed").c_str()) == 0);
    home.write(".config/exed/exectl.conf", "url = " + url + "\ntoken_file = " + home.file("token") + "\n");
    CHECK(run(exectl_binary(), {"jobs"}, {{"HOME", home.path()}}).code == 0);
    CHECK(run(exectl_binary(), {"jobs"}, {{"HOME", home.path()}, {"EXED_URL", wrong}}).code == 3);
    CHECK(run(exectl_binary(), {"jobs"}, {{"HOME", home.path()}, {"EXED_TOKEN", "nope"}}).code == 3);
}

TEST_CASE("exectl on a terminal: progress line, per-host output, colour unless NO_COLOR") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url()));
    exed.start();
    auto r = exectl_tty(exed.port(), "execute node1,node2,web2 -- echo from-exectl");
    CHECK(r.code == 1);  // web2 is down
    CHECK(r.out.find("3/3 hosts done") != std::string::npos);
    CHECK(r.out.find("1 failed") != std::string::npos);
    CHECK(r.out.find("elapsed") != std::string::npos);
    CHECK(r.out.find("from-exectl") != std::string::npos);
    CHECK(r.out.find("\033[31munreachable\033[0m") != std::string::npos);
    CHECK(r.out.find("\033[32mok\033[0m") == std::string::npos);  // execute: changed, not ok
    CHECK(r.out.find("{\"jid\"") == std::string::npos);       // no JSON on a terminal
    // The progress line is redrawn above the output: the cursor moves up.
    CHECK(r.out.find("A\r\033[K") != std::string::npos);

    auto plain = exectl_tty(exed.port(), "ping node1", {{"NO_COLOR", "1"}});
    CHECK(plain.code == 0);
    CHECK(plain.out.find("1/1 hosts done") != std::string::npos);
    CHECK(plain.out.find("\033[3") == std::string::npos);
    CHECK(plain.out.find("\033[1m") == std::string::npos);

    auto json = exectl_tty(exed.port(), "ping node1 --json");
    CHECK(json.code == 0);
    CHECK(json.out.find("hosts done") == std::string::npos);
    CHECK(json.out.find("\"return_data\"") != std::string::npos);
}

TEST_CASE("exectl execute -- ARGV: the cmd sent splits back (shlex) into exactly ARGV") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url()));
    exed.start();
    std::vector<std::string> argv = {"printf", "%s|", "two words", "it's", "\"dq\"", "$HOME", "back\\slash",
                                     "", "new\nline", "--", "-x", "*", "ünï ☃", "'", ";"};
    std::vector<std::string> args = {"execute", "node1", "--async", "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    auto a = exectl(exed.port(), args);
    REQUIRE(a.code == 0);
    std::string jid = obj(a.out)->getValue<std::string>("jid");
    auto rec = http("GET", exed.port(), "/jobs/" + jid).object();
    std::string cmd = rec->getObject("operate_args")->getValue<std::string>("cmd");
    TempDir d;
    d.write("cmd", cmd);
    auto split = run("python3", {"-c", "import json,shlex,sys; print(json.dumps(shlex.split(open(sys.argv[1]).read())))",
                                 d.file("cmd")});
    REQUIRE(split.code == 0);
    auto got = Poco::JSON::Parser().parse(split.out).extract<Poco::JSON::Array::Ptr>();
    REQUIRE(got->size() == argv.size());
    for (size_t i = 0; i < argv.size(); ++i) CHECK(got->getElement<std::string>(unsigned(i)) == argv[i]);
}

TEST_CASE("exectl shovey: run (waits, exit 0 only when every node succeeded), output, job, jobs, nodes, cancel") {
    SharedRedis redis;
    ExedProcess exed(test_config(redis.url(), "[shovey]\nstatus_interval = 1\ndown_after = 1\n"
                                              "[shovey.commands]\nhello = echo hello\nnap = sleep 30\n"));
    exed.start();
    int port = exed.port();
    bool up = false;
    for (int i = 0; i < 150 && !up; ++i) {
        auto n = exectl(port, {"shovey", "nodes", "node1"});
        up = n.code == 0 && obj(n.out)->optValue<std::string>("status", "") == "up" &&
             exectl(port, {"shovey", "nodes", "web2"}).code == 0;
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    REQUIRE(up);

    auto ok = exectl(port, {"shovey", "run", "hello", "node1,node2"});
    CHECK(ok.code == 0);
    auto doc = obj(ok.out);
    CHECK(doc->getValue<std::string>("status") == "complete");
    CHECK(doc->getObject("nodes")->getArray("succeeded")->size() == 2);
    std::string id = doc->getValue<std::string>("id");
    auto out = exectl(port, {"shovey", "output", id, "node1"});
    CHECK(out.code == 0);
    CHECK(obj(out.out)->getValue<std::string>("output") == "hello\n");
    CHECK(exectl_tty(port, "shovey output " + id + " node2").out.find("hello") != std::string::npos);
    CHECK(obj(exectl(port, {"shovey", "job", id, "node2"}).out)->getValue<int>("exit_status") == 0);
    auto ids = exectl(port, {"shovey", "jobs"});
    CHECK(ids.out.find(id) != std::string::npos);

    // web2 is down: 50% quorum is met, web2 never runs it, and exectl says not all succeeded.
    auto partly = exectl(port, {"shovey", "run", "hello", "node1,web2", "--quorum", "50%"});
    CHECK(partly.code == 1);
    CHECK(obj(partly.out)->getObject("nodes")->getArray("down")->size() == 1);

    auto queued = exectl(port, {"shovey", "run", "nap", "node3", "--async"});
    REQUIRE(queued.code == 0);
    std::string nap = obj(queued.out)->getValue<std::string>("id");
    auto cancelled = exectl(port, {"shovey", "cancel", nap});
    CHECK(cancelled.code == 0);
    CHECK(obj(cancelled.out)->getValue<std::string>("status") == "cancelled");

    CHECK(exectl(port, {"shovey", "run", "rm", "node1"}).code == 2);  // not a [shovey.commands] name
    CHECK(exectl(port, {"shovey", "frobnicate"}).code == 2);
    CHECK(exectl(port, {"shovey", "run", "hello"}).code == 2);
    CHECK(exectl(port, {"shovey", "job", "nosuchjob"}).code == 2);  // 404
}

TEST_CASE("exectl --help for every command and bash completion") {
    auto all = run(exectl_binary(), {"--help"});
    CHECK(all.code == 0);
    for (const char* c : {"ping", "facter", "service", "execute", "deploy", "release", "target", "jobs",
                          "job", "cancel", "shovey"}) {
        CAPTURE(c);
        CHECK(all.out.find(std::string("  ") + c + " ") != std::string::npos);
        auto one = run(exectl_binary(), {c, "--help"});
        CHECK(one.code == 0);
        CHECK(one.out.find(std::string("usage: exectl ") + c) != std::string::npos);
    }
    CHECK(run(exectl_binary(), {"execute", "--help"}).out.find("exactly as given") != std::string::npos);
    std::string script = std::string(EXED_SOURCE_DIR) + "/core/exectl/exectl.bash";
    auto comp = run("bash", {"-c", "source " + script +
                                       "; COMP_WORDS=(exectl --json ex); COMP_CWORD=2; _exectl; echo ${COMPREPLY[@]};"
                                       " COMP_WORDS=(exectl jobs --l); COMP_CWORD=2; _exectl; echo ${COMPREPLY[@]}"});
    CHECK(comp.out == "execute\n--limit\n");
}

TEST_CASE("exectl --cacert: https verified against the given CA, refused (exit 3) without it") {
    TempDir d;
    std::string sh = "cd " + d.path() +
                     " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2"
                     " -subj /CN=exectl-test-ca"
                     " && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost"
                     " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext"
                     " && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem"
                     " -days 2 -extfile ext";
    REQUIRE(run("sh", {"-c", sh + " 2>/dev/null"}).code == 0);
    int port = free_port();
    auto server = Poco::Process::launch(
        "python3", {std::string(EXED_SOURCE_DIR) + "/tests/fixtures/tls_json_server.py", std::to_string(port),
                    d.file("srv.pem"), d.file("srv.key")});
    std::string url = "https://127.0.0.1:" + std::to_string(port);
    Run ok;
    for (int i = 0; i < 50; ++i) {
        ok = run(exectl_binary(), {"--url", url, "--cacert", d.file("ca.pem"), "target"});
        if (ok.err.find("Connection refused") == std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(ok.code == 0);
    CHECK(ok.out == "[\"tls-host\"]\n");
    auto untrusted = run(exectl_binary(), {"--url", url, "target"});
    CHECK(untrusted.code == 3);
    CHECK(untrusted.err.find("TLS with " + url + " failed") != std::string::npos);
    auto missing = run(exectl_binary(), {"--url", url, "--cacert", d.file("nope.pem"), "target"});
    CHECK(missing.code == 2);
    Poco::Process::kill(server);
    server.wait();
}

TEST_CASE("exectl execute over ansible (local connection): the program gets exactly ARGV") {
    SharedRedis redis;
    TempDir inv;
    inv.write("inventory", "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n");
    ExedProcess exed(test_config(redis.url(),
                                 "[runner]\nexecutor = ansible\n[ansible]\nworkdir = " + inv.path() +
                                     "\ninventory = inventory\nrun_dir = @DIR@/ansible\n",
                                 EXED_BUILD_DIR "/plugins"));
    exed.start();
    // printf prints each argument between brackets: the words arrive intact.
    std::vector<std::string> words = {"two words", "it's", "\"dq\"", "$HOME", "back\\slash", "", "{{ x }}",
                                      "-x", "*", "ünï ☃", ";", "a\tb"};
    std::vector<std::string> args = {"execute", "localhost", "--", "printf", "[%s]"};
    args.insert(args.end(), words.begin(), words.end());
    auto r = exectl(exed.port(), args);
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    std::string expected;
    for (const auto& w : words) expected += "[" + w + "]";
    auto host = obj(r.out)->getObject("return_data")->getObject("localhost");
    CHECK(host->getValue<std::string>("stdout") == expected);
    CHECK(host->getValue<int>("rtc") == 0);
}
