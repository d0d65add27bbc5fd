// The one argv rule of `execute` (issue 24, item 9): exed's splitter gives
// what Python's shlex.split (POSIX mode, which ansible's command module and
// exed_exec apply to a cmd) gives, for edge cases and thousands of random
// strings of quotes, backslashes and blanks, checked against the real
// python3 in this run; and execute's validation adds that argv beside cmd.
#include "errors.hpp"
#include "operate/command_line.hpp"
#include "operate/validate.hpp"
#include "support/temp_dir.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

using exed::operate::CommandLineError;
using exed::operate::split_command_line;

namespace {

// python3's answer for each line: a JSON array of words, or null when
// shlex.split raises ValueError.
Poco::JSON::Array::Ptr shlex_answers(const std::vector<std::string>& lines) {
    exed::test::TempDir dir;
    Poco::JSON::Array in;
    for (auto& l : lines) in.add(l);
    std::ofstream(dir.file("in.json")) << [&] { std::ostringstream s; in.stringify(s); return s.str(); }();
    std::string cmd = "python3 -c 'import json, shlex, sys\n"
                      "def split(s):\n"
                      "    try: return shlex.split(s)\n"
                      "    except ValueError: return None\n"
                      "json.dump([split(s) for s in json.load(open(sys.argv[1]))], open(sys.argv[2], \"w\"))' " +
                      dir.file("in.json") + " " + dir.file("out.json");
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream out(dir.file("out.json"));
    return Poco::JSON::Parser().parse(out).extract<Poco::JSON::Array::Ptr>();
}

}  // namespace

TEST_CASE("execute's command split is POSIX shlex's, checked against python3") {
    std::vector<std::string> lines = {
        "sh -c 'echo hi; exit 3'", "a  b\tc\nd\re", "", "   ", "''", "a '' b", "\"\"", "a\"b c\"d", "x\\ y",
        "'a\\b'", "\"a\\\"b\"", "\"a\\\\b\"", "\"a\\$b\\`c\\nd\"", "a\\\nb", "\"a\nb\"", "é ü\u00a0x", "#not a comment",
        "echo 'it''s'", "echo \"it's\"", "a 'b", "a \"b", "a\\", "\"a\\", "'a\\", "a\\\\", "\"\\\"\"", "'\"'",
    };
    std::mt19937 rng(24);  // fixed seed: the same strings every run
    const std::string alphabet = "ab \t\n'\"\\$`#";
    for (int i = 0; i < 3000; ++i) {
        std::string s;
        size_t n = rng() % 12;
        for (size_t j = 0; j < n; ++j) s += alphabet[rng() % alphabet.size()];
        lines.push_back(s);
    }
    auto answers = shlex_answers(lines);
    REQUIRE(answers->size() == lines.size());
    size_t refused = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
        CAPTURE(lines[i]);
        if (answers->isNull(i)) {
            ++refused;
            CHECK_THROWS_AS(split_command_line(lines[i]), CommandLineError);
            continue;
        }
        auto expected = answers->getArray(i);
        std::vector<std::string> words;
        for (size_t j = 0; j < expected->size(); ++j) words.push_back(expected->getElement<std::string>(j));
        CHECK(split_command_line(lines[i]) == words);
    }
    CHECK(refused > 0);  // the random strings did exercise the refusals
}

TEST_CASE("execute's validation adds argv beside cmd and refuses a cmd that does not split") {
    using exed::operate::args_from_query;
    std::vector<std::string> targets;
    auto args = args_from_query("execute", {{"target", "web1"}, {"cmd", "sh -c 'echo hi; exit 3'"}}, targets);
    CHECK(args->getValue<std::string>("cmd") == "sh -c 'echo hi; exit 3'");
    auto argv = args->getArray("argv");
    REQUIRE(argv);
    REQUIRE(argv->size() == 3);
    CHECK(argv->getElement<std::string>(2) == "echo hi; exit 3");
    for (std::string bad : {"sh -c 'echo hi", "echo \"a", "echo a\\", " \t", "'' x"}) {
        CAPTURE(bad);
        try {
            args_from_query("execute", {{"target", "web1"}, {"cmd", bad}}, targets);
            FAIL("accepted");
        } catch (const exed::DomainError& e) {
            CHECK(e.code() == exed::Errc::invalid);
        }
    }
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    Poco::JSON::Array::Ptr t = new Poco::JSON::Array;
    t->add("web1");
    body->set("targets", t);
    body->set("cmd", "printf '%s\\n' \"a b\"");
    int timeout = 0;
    args = exed::operate::args_from_body("execute", body, targets, timeout);
    argv = args->getArray("argv");
    REQUIRE(argv);
    CHECK(argv->size() == 3);
    CHECK(argv->getElement<std::string>(2) == "a b");
}
