// Ansible host patterns, evaluated in-process against a snapshot of the
// inventory, with the semantics of ansible-core's InventoryManager.get_hosts:
//   "a,b" or "a:b"  union        "a:&b"  intersection     "a:!b"  exclusion
//   "all", "*"      every host   "web*"  fnmatch glob     "~re"   regex (match at start)
//   "g[0]", "g[1:3]", "g[2:]"     subscripts of a group's host list
// Terms without & or ! come first, then &, then ! (as ansible orders them);
// a pattern of only & / ! terms starts from "all". A term names groups
// first; hosts are matched too when no group matched or the term is a
// glob/regex. Unlike ansible, an unlisted "localhost" is never implied:
// exed only targets hosts of the inventory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace exed::ansible {

// Immutable once built (Inventory shares one snapshot between threads).
// Hosts are referred to by their index in `hosts`: matching then works on
// small integers and bitmaps instead of copying names into sets.
struct InventoryData {
    std::vector<std::string> hosts;   // every host, in inventory order
    std::vector<std::string> groups;  // every group, "all" first
    // groups[i] -> indices into `hosts` of its hosts and those of all its
    // descendants, in ansible's order
    std::vector<std::vector<uint32_t>> members;

    // Fills hosts, groups and members (and the name index) from each
    // group's host names: `all` must be the first group and hold every host.
    void build(std::vector<std::string> group_names,
               const std::vector<std::vector<std::string>>& group_host_names);

    bool has_host(const std::string& name) const { return index.count(name) != 0; }
    // Index of `name` in hosts, or -1.
    long find_host(const std::string& name) const {
        auto it = index.find(name);
        return it == index.end() ? -1 : long(it->second);
    }

private:
    // name -> index in hosts. check() looks up every target of a request:
    // a linear search made that O(targets x hosts) (docs/performance.md).
    std::unordered_map<std::string, uint32_t> index;
};

// Longest pattern accepted (docs/api.md): work is linear in it, but a
// request must not make every inventory name be scanned for megabytes.
constexpr size_t kMaxPatternBytes = 4096;

// The hosts `pattern` selects, in order, without duplicates, as indices
// into inventory.hosts (no name is copied). Throws exed::BadInput on an
// invalid regex, an out-of-range subscript or a pattern over kMaxPatternBytes.
std::vector<uint32_t> match_host_ids(const InventoryData& inventory, const std::string& pattern);

}  // namespace exed::ansible
