#include "host_pattern.hpp"

#include "fnmatch.hpp"

#include <exed/sdk.hpp>

#include <Poco/Exception.h>
#include <Poco/RegularExpression.h>

#include <algorithm>
#include <optional>

namespace exed::ansible {
namespace {

using Ids = std::vector<uint32_t>;  // indices into InventoryData::hosts

// Python's str.isspace() for the ASCII range (what ansible's strip() and
// the \s of its term regex skip).
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f'); }

std::string strip(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && is_space(s[b])) ++b;
    while (e > b && is_space(s[e - 1])) --e;
    return s.substr(b, e - b);
}

// Splits like ansible's split_host_pattern: on "," when there is one,
// otherwise into the runs of re.findall(r"(?:[^\s:\[\]]|\[[^\]]*\])+"):
// characters other than whitespace, ":" and brackets, and whole
// "[...]" groups. A loop, not that regex: PCRE recursed once per
// character and a long pattern overflowed the stack (issue 14).
std::vector<std::string> split_terms(const std::string& pattern) {
    std::vector<std::string> raw;
    if (pattern.find(',') != std::string::npos) {
        size_t start = 0, comma;
        while ((comma = pattern.find(',', start)) != std::string::npos) {
            raw.push_back(pattern.substr(start, comma - start));
            start = comma + 1;
        }
        raw.push_back(pattern.substr(start));
    } else {
        size_t pos = 0, n = pattern.size();
        size_t last_close = pattern.rfind(']');  // a "[" before it has its "]"
        while (pos < n) {
            size_t end = pos;
            for (;;) {
                char c = end < n ? pattern[end] : '\0';
                if (end < n && !is_space(c) && c != ':' && c != '[' && c != ']') {
                    ++end;
                } else if (end < n && c == '[' && last_close != std::string::npos && last_close > end) {
                    end = pattern.find(']', end + 1) + 1;
                } else {
                    break;
                }
            }
            if (end > pos) raw.push_back(pattern.substr(pos, end - pos));
            pos = end > pos ? end : pos + 1;
        }
    }
    std::vector<std::string> terms;
    for (auto& t : raw)
        if (!strip(t).empty()) terms.push_back(strip(t));
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
// and host name (docs/performance.md). "~regex" terms are PCRE's, as in
// ansible (re.match: anchored at the start, any end); every other term is
// an fnmatch glob (fnmatch.hpp: linear, no recursion), with a byte
// comparison for the common shapes "name" and "prefix*".
class NameMatcher {
public:
    explicit NameMatcher(const std::string& expr) : expr_(expr) {
        if (expr[0] == '~') {
            try {
                // RE_ANCHORED: Poco's match(string) would demand a whole-string match.
                re_.emplace(expr.substr(1), Poco::RegularExpression::RE_ANCHORED);
            } catch (const Poco::Exception& e) {
                throw invalid(e);
            }
            return;
        }
        size_t plain = expr.find_first_of("*?[");
        if (plain == std::string::npos) {
            kind_ = Kind::Exact;
        } else if (expr.find_first_not_of('*', plain) == std::string::npos) {
            kind_ = Kind::Prefix;
            prefix_len_ = plain;
        } else {
            glob_.emplace(expr);
        }
    }

    bool operator()(const std::string& name) {
        switch (kind_) {
            case Kind::Exact: return name == expr_;
            case Kind::Prefix: return name.compare(0, prefix_len_, expr_, 0, prefix_len_) == 0;
            case Kind::Other: break;
        }
        if (glob_) return glob_->matches(name);
        try {
            Poco::RegularExpression::Match m;
            return re_->match(name, 0, m) > 0;
        } catch (const Poco::Exception& e) {  // e.g. PCRE's match limit
            throw invalid(e);
        }
    }

private:
    enum class Kind { Exact, Prefix, Other };

    exed::BadInput invalid(const Poco::Exception& e) const {
        return exed::BadInput("invalid host pattern " + expr_ + ": " + e.message());
    }

    const std::string& expr_;
    Kind kind_ = Kind::Other;
    size_t prefix_len_ = 0;
    std::optional<Fnmatch> glob_;
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

// Subscript numbers saturate here: far past any host count, yet start + 1
// and end + 1 cannot overflow (Python's ints never do).
constexpr long kHugeIndex = 1L << 50;

struct Subscript {
    long start = 0;
    std::optional<long> end;  // none: a single index
};

// ASCII digits in s[from, to) as a number, saturated at kHugeIndex.
long parse_index(const std::string& s, size_t from, size_t to) {
    long v = 0;
    for (size_t i = from; i < to; ++i) v = std::min(kHugeIndex, v * 10 + (s[i] - '0'));
    return v;
}

bool digits(const std::string& s, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

// "g[1]", "g[-1]", "g[1:3]", "g[2:]" (and the old "g[1-3]") -> ("g", subscript),
// as ansible's PATTERN_WITH_SUBSCRIPT,
//   ^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$
// read by hand: the subscript holds no "[", so only the last "[" can open
// it, and "." never matches a newline. (Terms are stripped: no final
// newline for $ to skip.)
std::pair<std::string, std::optional<Subscript>> split_subscript(const std::string& term) {
    if (term[0] == '~' || term.back() != ']') return {term, std::nullopt};
    size_t open = term.rfind('[');
    if (open == std::string::npos || open == 0 || term.find('\n') < open) return {term, std::nullopt};
    size_t close = term.size() - 1, from = open + 1;
    Subscript s;
    size_t sep = term.find_first_of(":-", from + 1);  // a range's separator follows a digit
    if (sep != std::string::npos && sep < close && digits(term, from, sep) &&
        digits(term, sep + 1, close)) {
        s.start = parse_index(term, from, sep);
        s.end = sep + 1 == close ? -1 : parse_index(term, sep + 1, close);
    } else {
        bool negative = from < close && term[from] == '-';
        size_t first = from + (negative ? 1 : 0);
        if (first == close || !digits(term, first, close)) return {term, std::nullopt};
        s.start = negative ? -parse_index(term, first, close) : parse_index(term, first, close);
    }
    return {term.substr(0, open), s};
}

Ids apply_subscript(const Ids& hosts, const Subscript& s, const std::string& term) {
    long n = long(hosts.size());
    if (n == 0) return hosts;  // ansible: no hosts, no subscript error
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
    if (pattern.size() > kMaxPatternBytes)
        throw exed::BadInput("host pattern is longer than " + std::to_string(kMaxPatternBytes) +
                             " bytes");
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
