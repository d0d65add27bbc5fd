#include "operate/command_line.hpp"

#include "errors.hpp"

#include <Poco/JSON/Array.h>

namespace exed::operate {

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

// Not boost::program_options::split_unix (or escaped_list_separator under
// it): it drops empty words (''), honours backslash escapes inside single
// quotes, turns "\n" into a newline, throws on escapes it does not know and
// accepts an unterminated quote. shlex's rules are a short loop.
std::vector<std::string> split_command_line(const std::string& line) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;  // a word was started (it may still be empty: '')
    size_t i = 0;
    const size_t n = line.size();
    while (i < n) {
        char c = line[i];
        if (blank(c)) {
            if (in_word) words.push_back(std::move(word)), word.clear(), in_word = false;
            ++i;
        } else if (c == '\\') {
            if (i + 1 >= n) throw CommandLineError("a backslash ends the command (nothing to escape)");
            word += line[i + 1];
            in_word = true;
            i += 2;
        } else if (c == '\'') {
            size_t end = line.find('\'', i + 1);
            if (end == std::string::npos)
                throw CommandLineError("no closing quotation: the ' at byte " + std::to_string(i) + " is not closed");
            word.append(line, i + 1, end - i - 1);
            in_word = true;
            i = end + 1;
        } else if (c == '"') {
            size_t j = i + 1;
            for (;; ++j) {
                if (j >= n)
                    throw CommandLineError("no closing quotation: the \" at byte " + std::to_string(i) +
                                           " is not closed");
                if (line[j] == '"') break;
                // Only \" and \\ are escapes in double quotes (shlex's rule);
                // any other backslash is kept as it is.
                if (line[j] == '\\' && j + 1 < n && (line[j + 1] == '"' || line[j + 1] == '\\')) ++j;
                word += line[j];
            }
            in_word = true;
            i = j + 1;
        } else {
            word += c;
            in_word = true;
            ++i;
        }
    }
    if (in_word) words.push_back(std::move(word));
    return words;
}

void add_execute_argv(Poco::JSON::Object::Ptr args) {
    if (!args || !args->has("cmd") || !args->get("cmd").isString()) return;
    const std::string cmd = args->getValue<std::string>("cmd");
    if (cmd.find('\0') != std::string::npos) throw DomainError(Errc::invalid, "cmd contains a NUL byte");
    std::vector<std::string> argv;
    try {
        argv = split_command_line(cmd);
    } catch (const CommandLineError& e) {
        throw DomainError(Errc::invalid, std::string("cmd cannot be split into words: ") + e.what() +
                                             " (quoting rules: docs/api.md, \"One argv rule\")");
    }
    if (argv.empty()) throw DomainError(Errc::invalid, "cmd has no words (nothing to run)");
    if (argv[0].empty()) throw DomainError(Errc::invalid, "cmd's first word (the program) is empty");
    Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
    for (auto& w : argv) a->add(w);
    args->set("argv", a);
}

}  // namespace exed::operate
