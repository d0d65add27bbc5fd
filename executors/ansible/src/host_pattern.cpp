#include "host_pattern.hpp"

#include <exed/sdk.hpp>

#include <Poco/Exception.h>
#include <Poco/Glob.h>
#include <Poco/NumberParser.h>
#include <Poco/RegularExpression.h>
#include <Poco/String.h>

#include <algorithm>
#include <optional>
#include <set>

namespace exed::ansible {
namespace {

using Hosts = std::vector<std::string>;

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

bool name_matches(const std::string& expr, const std::string& name) {
    if (expr[0] != '~') return Poco::Glob(expr).match(name);
    try {
        // Like Python's re.match: anchored at the start, any end. (Poco's
        // match(string) would demand a whole-string match.)
        Poco::RegularExpression re(expr.substr(1), Poco::RegularExpression::RE_ANCHORED);
        Poco::RegularExpression::Match m;
        return re.match(name, 0, m) > 0;
    } catch (const Poco::Exception& e) {
        throw exed::BadInput("invalid host pattern " + expr + ": " + e.message());
    }
}

Hosts enumerate(const InventoryData& inv, const std::string& expr) {
    Hosts out;
    bool any_group = false;
    for (auto& g : inv.groups) {
        if (!name_matches(expr, g)) continue;
        any_group = true;
        auto& members = inv.group_hosts.at(g);
        out.insert(out.end(), members.begin(), members.end());
    }
    bool wildcard = expr[0] == '~' || expr.find_first_of(".?*[") != std::string::npos;
    if (!any_group || wildcard)
        for (auto& h : inv.hosts)
            if (name_matches(expr, h)) out.push_back(h);
    return out;
}

struct Subscript {
    long start = 0;
    std::optional<long> end;  // none: a single index
};

// "g[1]", "g[1:3]", "g[2:]" (and the old "g[1-3]") -> ("g", subscript).
std::pair<std::string, std::optional<Subscript>> split_subscript(const std::string& term) {
    if (term[0] == '~') return {term, std::nullopt};
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

Hosts apply_subscript(const Hosts& hosts, const Subscript& s, const std::string& term) {
    long n = long(hosts.size());
    if (!s.end || *s.end == 0) {  // ansible: a zero end means a single index
        long i = s.start < 0 ? n + s.start : s.start;
        if (i < 0 || i >= n) throw exed::BadInput("no hosts matched the subscripted pattern " + term);
        return {hosts[size_t(i)]};
    }
    long end = *s.end == -1 ? n - 1 : *s.end;
    long from = std::min(s.start, n), to = std::min(end + 1, n);
    if (from >= to) return {};
    return Hosts(hosts.begin() + from, hosts.begin() + to);
}

Hosts match_term(const InventoryData& inv, std::string term) {
    if (term[0] == '&' || term[0] == '!') term.erase(0, 1);
    if (term.empty()) return {};
    auto [expr, subscript] = split_subscript(term);
    Hosts hosts = enumerate(inv, expr);
    return subscript ? apply_subscript(hosts, *subscript, term) : hosts;
}

}  // namespace

bool InventoryData::has_host(const std::string& name) const {
    return std::find(hosts.begin(), hosts.end(), name) != hosts.end();
}

std::vector<std::string> match_hosts(const InventoryData& inv, const std::string& pattern) {
    Hosts hosts;
    for (auto& term : order_terms(split_terms(pattern))) {
        if (inv.has_host(term)) {
            hosts.push_back(term);
            continue;
        }
        Hosts that = match_term(inv, term);
        std::set<std::string> those(that.begin(), that.end());
        if (term[0] == '!') {
            hosts.erase(std::remove_if(hosts.begin(), hosts.end(),
                                       [&](const std::string& h) { return those.count(h); }),
                        hosts.end());
        } else if (term[0] == '&') {
            hosts.erase(std::remove_if(hosts.begin(), hosts.end(),
                                       [&](const std::string& h) { return !those.count(h); }),
                        hosts.end());
        } else {
            hosts.insert(hosts.end(), that.begin(), that.end());
        }
    }
    Hosts unique;
    std::set<std::string> seen;
    for (auto& h : hosts)
        if (seen.insert(h).second) unique.push_back(h);
    return unique;
}

}  // namespace exed::ansible
