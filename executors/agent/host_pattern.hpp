// Ansible-like host patterns over the connected agents, with the semantics
// the ansible executor documents (executors/ansible/src/host_pattern.hpp):
//   "a,b" / "a:b" union, "a:&b" intersection, "a:!b" exclusion,
//   "all" / "*" every node, globs with * ? [..], "~re" regex (match at start).
// Plain terms first, then & terms, then ! terms; only &/! terms start from
// all. Plugins share no code across the ABI, so this is the agent's own
// small matcher (there are no groups: agents are a flat list of nodes).
#pragma once

#include <exed/sdk.hpp>

#include <Poco/Glob.h>
#include <Poco/RegularExpression.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace exed::agent_executor {

constexpr size_t kMaxPatternBytes = 4096;

inline std::vector<std::string> split_pattern(const std::string& pattern) {
    std::vector<std::string> terms;
    std::string cur;
    int brackets = 0;  // a ':' or ',' inside [..] belongs to the glob
    for (char c : pattern) {
        if (c == '[') ++brackets;
        if (c == ']' && brackets > 0) --brackets;
        if ((c == ',' || c == ':') && brackets == 0) {
            if (!cur.empty()) terms.push_back(cur);
            cur.clear();
        } else if (c != ' ' && c != '\t') {
            cur += c;
        }
    }
    if (!cur.empty()) terms.push_back(cur);
    return terms;
}

// `nodes` sorted; returns the matching ones, sorted, without duplicates.
inline std::vector<std::string> match_nodes(const std::vector<std::string>& nodes, const std::string& pattern) {
    if (pattern.size() > kMaxPatternBytes) throw exed::BadInput("pattern is longer than 4096 bytes");
    auto matcher = [](const std::string& term) {
        if (term == "all" || term == "*") return std::function<bool(const std::string&)>([](auto&) { return true; });
        if (term[0] == '~') {
            try {
                auto re = std::make_shared<Poco::RegularExpression>(term.substr(1));
                return std::function<bool(const std::string&)>([re](const std::string& n) {
                    Poco::RegularExpression::Match m;
                    return re->match(n, 0, m) > 0 && m.offset == 0;
                });
            } catch (const Poco::Exception& e) {
                throw exed::BadInput("invalid regex in pattern '" + term + "': " + e.message());
            }
        }
        auto glob = std::make_shared<Poco::Glob>(term);
        return std::function<bool(const std::string&)>([glob](const std::string& n) { return glob->match(n); });
    };
    std::set<std::string> selected;
    bool any_plain = false;
    std::vector<std::string> intersect, exclude;
    for (auto& t : split_pattern(pattern)) {
        if (t[0] == '&' && t.size() > 1) intersect.push_back(t.substr(1));
        else if (t[0] == '!' && t.size() > 1) exclude.push_back(t.substr(1));
        else {
            any_plain = true;
            auto m = matcher(t);
            for (auto& n : nodes)
                if (m(n)) selected.insert(n);
        }
    }
    if (!any_plain) selected.insert(nodes.begin(), nodes.end());
    for (auto& t : intersect) {
        auto m = matcher(t);
        for (auto it = selected.begin(); it != selected.end();) it = m(*it) ? std::next(it) : selected.erase(it);
    }
    for (auto& t : exclude) {
        auto m = matcher(t);
        for (auto it = selected.begin(); it != selected.end();) it = m(*it) ? selected.erase(it) : std::next(it);
    }
    return {selected.begin(), selected.end()};
}

}  // namespace exed::agent_executor
