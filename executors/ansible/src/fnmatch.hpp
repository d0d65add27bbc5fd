// Ansible's host-pattern globs: what re.compile(fnmatch.translate(p)).match(name)
// answers in ansible-core (Python 3.11's fnmatch), without a regex engine.
//   *  any run of characters      ?  one character      [set] [!set]  one of / none of
//   everything else, backslash included, is a literal (fnmatch has no escape)
// A pattern is compiled once into one-character tokens and stars; matching
// is the two-pointer walk that backtracks only to the last star, so it
// costs at most pattern tokens x name characters, never exponential time
// and never recursion (Poco::Glob was both: issue 14).
// Characters are Unicode code points decoded from UTF-8, as Python compares
// them; a byte that is not valid UTF-8 stands for itself (a code point of
// its own that no valid character equals).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace exed::ansible {

class Fnmatch {
public:
    // Throws exed::BadInput where Python's re would refuse the translation
    // (a character range whose ends are out of order).
    explicit Fnmatch(const std::string& pattern);

    bool matches(const std::string& name) const;

private:
    struct Set {
        bool negated = false;
        std::vector<std::pair<char32_t, char32_t>> ranges;  // inclusive
        bool has(char32_t c) const;
    };
    struct Token {
        enum Kind { Literal, Any, Star, OneOf } kind;
        char32_t literal = 0;
        size_t set = 0;  // index into sets_ for OneOf
    };

    void add_set(const std::vector<char32_t>& p, size_t open, size_t close);
    bool token_matches(const Token& t, char32_t c) const;

    std::vector<Token> tokens_;
    std::vector<Set> sets_;
    bool never_ = false;  // an empty set "[b-a]": fnmatch's (?!) matches nothing
};

// UTF-8 to code points; each invalid byte b becomes 0xDC00 + b (as
// Python's surrogateescape), so equal strings decode equal and distinct
// strings decode distinct.
std::vector<char32_t> code_points(const std::string& utf8);

}  // namespace exed::ansible
