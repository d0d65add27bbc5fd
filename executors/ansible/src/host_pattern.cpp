#include "host_pattern.hpp"

#include <exed/sdk.hpp>

#include <Poco/Exception.h>
#include <Poco/Glob.h>
#include <Poco/NumberParser.h>
#include <Poco/RegularExpression.h>
#include <Poco/String.h>

#include <algorithm>
#include <optional>

namespace exed::ansible {
namespace {

using Ids = std::vector<uint32_t>;  // indices into InventoryData::hosts

// Splits like ansible's split_host_pattern: on "," when there is one,
// otherwise on ":" and whitespace outside [brackets].
std::vector<std::string> split_terms(const std::string& pattern) {
    std::vector<std::string> raw;
    std::string text = Poco::trim(pattern);
    if (text.find(',') != std::string::npos) {
        size_t start = 0, comma;
        while ((comma = text.find(',', start)) != std::string::npos) {
            raw.push_back(text.substr(start, comma - start));
            start = comma + 1;
        }
        raw.push_back(text.substr(start));
    } else {
        static const Poco::RegularExpression term(R"((?:[^\s:\[\]]|\[[^\]]*\])+)");  // compiled once
        Poco::RegularExpression::Match m;
        std::string::size_type offset = 0;
        while (offset < text.size() && term.match(text, offset, m) > 0) {
            raw.push_back(text.substr(m.offset, m.length));
            offset = m.offset + std::max<std::string::size_type>(m.length, 1);
        }
    }
    std::vector<std::string> terms;
    for (auto& t : raw)
        if (!Poco::trim(t).empty()) terms.push_back(Poco::trim(t));
    return terms;
}

// Plain terms, then intersections (&), then exclusions (!).
std::vector<std::string> order_terms(const std::vector<std::string>& terms) {
    std::vector<std::string> plain, both, minus;
    for (auto& t : terms) (t[0] == '!' ? minus : t[0] == '&' ? both : plain).push_back(t);
    if (plain.empty()) plain.push_back("all");
    plain.insert(plain.end(), both.begin(), both.end());
    plain.insert(plain.end(), minus.begin(), minus.end());
    return plain;
}

// One term's name test, set up once per term and then tried on every group
// and host name (it used to build a Poco::Glob, or compile the "~" regex,
// per name tried: docs/performance.md). Results are Poco::Glob's / PCRE's,
// with two exact shortcuts for the common shapes "name" and "prefix*" made
// only of ASCII characters that are not glob syntax: Poco::Glob compares
// code point by code point, and an ASCII code point only ever comes from
// that same byte, so comparing bytes gives the same answer for any subject.
class NameMatcher {
public:
    explicit NameMatcher(const std::string& expr) : expr_(expr) {
        if (expr[0] == '~') {
            try {
                // Like Python's re.match: anchored at the start, any end. (Poco's
                // match(string) would demand a whole-string match.)
                re_.emplace(expr.substr(1), Poco::RegularExpression::RE_ANCHORED);
            } catch (const Poco::Exception& e) {
                throw invalid(e);
            }
            return;
        }
        size_t plain = 0;  // leading ASCII non-glob characters
        while (plain < expr.size() && is_plain(expr[plain])) ++plain;
        if (plain == expr.size()) {
            kind_ = Kind::Exact;
        } else if (plain + 1 == expr.size() && expr[plain] == '*') {
            kind_ = Kind::Prefix;
            prefix_len_ = plain;
        } else {
            glob_.emplace(expr);  // its match() may throw SyntaxException, as before
        }
    }

    bool operator()(const std::string& name) {
        switch (kind_) {
            case Kind::Exact: return name == expr_;
            case Kind::Prefix: return name.compare(0, prefix_len_, expr_, 0, prefix_len_) == 0 &&
                                      name.size() >= prefix_len_;
            case Kind::Other: break;
        }
        if (glob_) return glob_->match(name);
        try {
            Poco::RegularExpression::Match m;
            return re_->match(name, 0, m) > 0;
        } catch (const Poco::Exception& e) {
            throw invalid(e);
        }
    }

private:
    enum class Kind { Exact, Prefix, Other };

    static bool is_plain(char c) {
        return static_cast<unsigned char>(c) < 0x80 && c != '*' && c != '?' && c != '[' && c != '\\';
    }
    exed::BadInput invalid(const Poco::Exception& e) const {
        return exed::BadInput("invalid host pattern " + expr_ + ": " + e.message());
    }

    const std::string& expr_;
    Kind kind_ = Kind::Other;
    size_t prefix_len_ = 0;
    std::optional<Poco::Glob> glob_;
    std::optional<Poco::RegularExpression> re_;
};

Ids enumerate(const InventoryData& inv, const std::string& expr) {
    NameMatcher matches(expr);
    Ids out;
    bool any_group = false;
    for (size_t g = 0; g < inv.groups.size(); ++g) {
        if (!matches(inv.groups[g])) continue;
        any_group = true;
        out.insert(out.end(), inv.members[g].begin(), inv.members[g].end());
    }
    bool wildcard = expr[0] == '~' || expr.find_first_of(".?*[") != std::string::npos;
    if (!any_group || wildcard)
        for (size_t h = 0; h < inv.hosts.size(); ++h)
            if (matches(inv.hosts[h])) out.push_back(uint32_t(h));
    return out;
}

struct Subscript {
    long start = 0;
    std::optional<long> end;  // none: a single index
};

// "g[1]", "g[1:3]", "g[2:]" (and the old "g[1-3]") -> ("g", subscript).
std::pair<std::string, std::optional<Subscript>> split_subscript(const std::string& term) {
    if (term[0] == '~') return {term, std::nullopt};
    // The regex below can only match a term ending in "]" (or "]\n": PCRE's
    // $ also matches before a final newline); skip it for every other term.
    if (term.back() != ']' && term.back() != '\n') return {term, std::nullopt};
    static const Poco::RegularExpression re(R"(^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$)");
    std::vector<std::string> g;
    if (re.split(term, g) == 0) return {term, std::nullopt};
    g.resize(6);
    Subscript s;
    if (!g[2].empty()) {
        s.start = Poco::NumberParser::parse(g[2]);
    } else {
        s.start = Poco::NumberParser::parse(g[3]);
        s.end = g[5].empty() ? -1 : long(Poco::NumberParser::parse(g[5]));
    }
    return {g[1], s};
}

Ids apply_subscript(const Ids& hosts, const Subscript& s, const std::string& term) {
    long n = long(hosts.size());
    if (!s.end || *s.end == 0) {  // ansible: a zero end means a single index
        long i = s.start < 0 ? n + s.start : s.start;
        if (i < 0 || i >= n) throw exed::BadInput("no hosts matched the subscripted pattern " + term);
        return {hosts[size_t(i)]};
    }
    long end = *s.end == -1 ? n - 1 : *s.end;
    long from = std::min(s.start, n), to = std::min(end + 1, n);
    if (from >= to) return {};
    return Ids(hosts.begin() + from, hosts.begin() + to);
}

Ids match_term(const InventoryData& inv, std::string term) {
    if (term[0] == '&' || term[0] == '!') term.erase(0, 1);
    if (term.empty()) return {};
    auto [expr, subscript] = split_subscript(term);
    Ids hosts = enumerate(inv, expr);
    return subscript ? apply_subscript(hosts, *subscript, term) : hosts;
}

}  // namespace

void InventoryData::build(std::vector<std::string> group_names,
                          const std::vector<std::vector<std::string>>& group_host_names) {
    groups = std::move(group_names);
    hosts = group_host_names.empty() ? std::vector<std::string>{} : group_host_names[0];
    index.clear();
    index.reserve(hosts.size());
    for (size_t i = 0; i < hosts.size(); ++i) index.emplace(hosts[i], uint32_t(i));
    members.assign(groups.size(), {});
    for (size_t g = 0; g < groups.size() && g < group_host_names.size(); ++g) {
        members[g].reserve(group_host_names[g].size());
        // Every group descends from "all", so its hosts are all in `hosts`.
        for (auto& h : group_host_names[g]) {
            auto it = index.find(h);
            if (it != index.end()) members[g].push_back(it->second);
        }
    }
}

std::vector<uint32_t> match_host_ids(const InventoryData& inv, const std::string& pattern) {
    Ids hosts;
    std::vector<char> in_term;  // over inv.hosts: the hosts of an & or ! term
    for (auto& term : order_terms(split_terms(pattern))) {
        long known = inv.find_host(term);
        if (known >= 0) {
            hosts.push_back(uint32_t(known));
            continue;
        }
        Ids that = match_term(inv, term);
        if (term[0] == '!' || term[0] == '&') {
            in_term.assign(inv.hosts.size(), 0);
            for (auto h : that) in_term[h] = 1;
            bool keep = term[0] == '&';  // &: keep those in the term; !: drop them
            hosts.erase(std::remove_if(hosts.begin(), hosts.end(),
                                       [&](uint32_t h) { return bool(in_term[h]) != keep; }),
                        hosts.end());
        } else {
            hosts.insert(hosts.end(), that.begin(), that.end());
        }
    }
    Ids unique;  // first seen first
    unique.reserve(hosts.size());
    std::vector<char> seen(inv.hosts.size(), 0);
    for (auto h : hosts)
        if (!seen[h]) seen[h] = 1, unique.push_back(h);
    return unique;
}

}  // namespace exed::ansible
