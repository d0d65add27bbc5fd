// Fuzz target: ansible host patterns (split, subscripts, fnmatch globs,
// ~regex) against a small fixed inventory. Any exception but BadInput, a
// crash, or a slow input (libFuzzer's -timeout) is a finding.
#include "host_pattern.hpp"

#include <exed/sdk.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {
const exed::ansible::InventoryData& inventory() {
    static const exed::ansible::InventoryData inv = [] {
        exed::ansible::InventoryData d;
        std::vector<std::string> web = {"web1.example.com", "web2.example.com", "web3.example.org"};
        std::vector<std::string> db = {"db1", "db2", "db10"};
        std::vector<std::string> all = web;
        all.insert(all.end(), db.begin(), db.end());
        all.push_back("lonely");
        all.push_back("ünï-côde");
        d.build({"all", "ungrouped", "web", "db", "prod"},
                {all, {"lonely", "ünï-côde"}, web, db, {"web1.example.com", "db1"}});
        return d;
    }();
    return inv;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string pattern(reinterpret_cast<const char*>(data), size);
    try {
        auto ids = exed::ansible::match_host_ids(inventory(), pattern);
        for (auto id : ids)
            if (id >= inventory().hosts.size()) __builtin_trap();
    } catch (const exed::BadInput&) {
    }
    return 0;
}
