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

#include <map>
#include <string>
#include <vector>

namespace exed::ansible {

struct InventoryData {
    std::vector<std::string> hosts;   // every host, in inventory order
    std::vector<std::string> groups;  // every group, "all" first
    // group -> its hosts and those of all its descendants, in ansible's order
    std::map<std::string, std::vector<std::string>> group_hosts;

    bool has_host(const std::string& name) const;
};

// The hosts `pattern` selects, in order, without duplicates. Throws
// exed::BadInput on an invalid regex or an out-of-range subscript.
std::vector<std::string> match_hosts(const InventoryData& inventory, const std::string& pattern);

}  // namespace exed::ansible
