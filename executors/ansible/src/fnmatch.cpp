#include "fnmatch.hpp"

#include <exed/sdk.hpp>

namespace exed::ansible {

std::vector<char32_t> code_points(const std::string& utf8) {
    std::vector<char32_t> out;
    out.reserve(utf8.size());
    size_t i = 0, n = utf8.size();
    while (i < n) {
        unsigned char b = static_cast<unsigned char>(utf8[i]);
        size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
        char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
        bool ok = len != 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; ++k) {
            unsigned char c = static_cast<unsigned char>(utf8[i + k]);
            ok = (c & 0xC0) == 0x80;
            cp = (cp << 6) | (c & 0x3F);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
        static const char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
        ok = ok && cp >= min_for_len[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        if (!ok) {
            out.push_back(0xDC00 + b);
            ++i;
        } else {
            out.push_back(cp);
            i += len;
        }
    }
    return out;
}

bool Fnmatch::Set::has(char32_t c) const {
    bool in = false;
    for (auto& [lo, hi] : ranges) in = in || (c >= lo && c <= hi);
    return in != negated;
}

Fnmatch::Fnmatch(const std::string& pattern) {
    std::vector<char32_t> p = code_points(pattern);
    size_t i = 0, n = p.size();
    while (i < n) {
        char32_t c = p[i++];
        if (c == '*') {
            if (tokens_.empty() || tokens_.back().kind != Token::Star) tokens_.push_back({Token::Star});
        } else if (c == '?') {
            tokens_.push_back({Token::Any});
        } else if (c == '[') {
            // As fnmatch.translate: "!" then a "]" right after the bracket
            // are part of the set; an unclosed "[" is a literal.
            size_t j = i;
            if (j < n && p[j] == '!') ++j;
            if (j < n && p[j] == ']') ++j;
            while (j < n && p[j] != ']') ++j;
            if (j >= n) {
                tokens_.push_back({Token::Literal, '['});
            } else {
                add_set(p, i, j);
                i = j + 1;
            }
        } else {
            tokens_.push_back({Token::Literal, c});
        }
    }
}

// p[open, close) is the text between "[" and its "]". Python splits it into
// chunks at the hyphens that make ranges, drops ranges whose ends are out
// of order, then joins the chunks with range hyphens; every other
// character is literal. We keep the same chunks and read the joined class
// as Python's re reads it: a hyphen between two characters makes a range.
void Fnmatch::add_set(const std::vector<char32_t>& p, size_t open, size_t close) {
    using Chunk = std::vector<char32_t>;
    std::vector<Chunk> chunks;
    bool has_hyphen = false;
    for (size_t k = open; k < close; ++k) has_hyphen = has_hyphen || p[k] == '-';
    if (!has_hyphen) {
        chunks.emplace_back(p.begin() + long(open), p.begin() + long(close));
    } else {
        size_t i = open, k = p[open] == '!' ? open + 2 : open + 1;
        for (;;) {
            while (k < close && p[k] != '-') ++k;
            if (k >= close) break;
            chunks.emplace_back(p.begin() + long(i), p.begin() + long(k));
            i = k + 1;
            k = k + 3;
        }
        Chunk last(p.begin() + long(std::min(i, close)), p.begin() + long(close));
        if (!last.empty()) chunks.push_back(std::move(last));
        else chunks.back().push_back('-');
        for (size_t k = chunks.size() - 1; k > 0; --k) {
            if (chunks[k - 1].empty() || chunks[k].empty())  // Python raises IndexError here
                throw exed::BadInput("invalid host pattern: bad character set");
            if (chunks[k - 1].back() > chunks[k].front()) {
                chunks[k - 1].pop_back();
                chunks[k - 1].insert(chunks[k - 1].end(), chunks[k].begin() + 1, chunks[k].end());
                chunks.erase(chunks.begin() + long(k));
            }
        }
    }
    // The class text: characters, and `true` for each joining (range) hyphen.
    std::vector<std::pair<char32_t, bool>> text;
    for (size_t k = 0; k < chunks.size(); ++k) {
        if (k > 0) text.push_back({'-', true});
        for (char32_t c : chunks[k]) text.push_back({c, false});
    }
    if (text.empty()) {  // "(?!)"
        never_ = true;
        return;
    }
    if (text.size() == 1 && text[0].first == '!' && !text[0].second) {  // "." (DOTALL)
        tokens_.push_back({Token::Any});
        return;
    }
    Set set;
    size_t k = 0;
    if (text[0].first == '!' && !text[0].second) set.negated = true, k = 1;
    while (k < text.size()) {
        char32_t lo = text[k].first;
        bool range = k + 2 < text.size() && text[k + 1].second;
        if (!range && k + 2 == text.size() && text[k + 1].second) {  // "x-" at the end: both literal
            set.ranges.push_back({lo, lo});
            set.ranges.push_back({'-', '-'});
            break;
        }
        if (range) {
            char32_t hi = text[k + 2].first;
            if (lo > hi) throw exed::BadInput("invalid host pattern: bad character range");
            set.ranges.push_back({lo, hi});
            k += 3;
        } else {
            set.ranges.push_back({lo, lo});
            ++k;
        }
    }
    sets_.push_back(std::move(set));
    tokens_.push_back({Token::OneOf, 0, sets_.size() - 1});
}

bool Fnmatch::token_matches(const Token& t, char32_t c) const {
    switch (t.kind) {
        case Token::Literal: return t.literal == c;
        case Token::Any: return true;
        case Token::OneOf: return sets_[t.set].has(c);
        case Token::Star: break;
    }
    return false;
}

bool Fnmatch::matches(const std::string& name_utf8) const {
    if (never_) return false;
    std::vector<char32_t> name = code_points(name_utf8);
    size_t t = 0, s = 0, n = name.size(), nt = tokens_.size();
    size_t star = std::string::npos, resume = 0;  // last star seen, and where its run ends
    while (s < n) {
        if (t < nt && tokens_[t].kind == Token::Star) {
            star = t++;
            resume = s;
        } else if (t < nt && token_matches(tokens_[t], name[s])) {
            ++t, ++s;
        } else if (star != std::string::npos) {
            // The star takes one more character; earlier stars never need
            // to: any match they could enable, this one enables too.
            t = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (t < nt && tokens_[t].kind == Token::Star) ++t;
    return t == nt;
}

}  // namespace exed::ansible
