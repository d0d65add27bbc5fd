#include "inventory.hpp"

#include "ansible_env.hpp"
#include "json_util.hpp"
#include "process.hpp"

#include <exed/sdk.hpp>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <fmt/format.h>

#include <deque>
#include <filesystem>
#include <set>

#include <sys/stat.h>

namespace fs = std::filesystem;

namespace exed::ansible {
namespace {

std::vector<std::string> strings_of(const Object::Ptr& group, const std::string& key) {
    std::vector<std::string> out;
    if (auto arr = group->getArray(key))
        for (size_t i = 0; i < arr->size(); ++i) out.push_back(arr->getElement<std::string>(i));
    return out;
}

}  // namespace

InventoryData Inventory::from_json(const std::string& json) {
    Object::Ptr root = parse_object(json, "ansible-inventory output");
    auto group_obj = [&](const std::string& name) -> Object::Ptr {
        return root->has(name) ? root->getObject(name) : Object::Ptr();
    };
    // Groups in breadth-first order from "all", as ansible lists children.
    std::vector<std::string> groups;
    std::deque<std::string> queue{"all"};
    std::set<std::string> seen{"all"};
    while (!queue.empty()) {
        std::string g = queue.front();
        queue.pop_front();
        groups.push_back(g);
        if (auto obj = group_obj(g))
            for (auto& child : strings_of(obj, "children"))
                if (seen.insert(child).second) queue.push_back(child);
    }
    // A group's hosts: its own, then its descendants', first seen first.
    std::vector<std::vector<std::string>> group_hosts;
    for (auto& g : groups) {
        std::vector<std::string> hosts;
        std::set<std::string> have, visited{g};
        std::deque<std::string> todo{g};
        while (!todo.empty()) {
            auto obj = group_obj(todo.front());
            todo.pop_front();
            if (!obj) continue;
            for (auto& h : strings_of(obj, "hosts"))
                if (have.insert(h).second) hosts.push_back(h);
            for (auto& child : strings_of(obj, "children"))
                if (visited.insert(child).second) todo.push_back(child);
        }
        group_hosts.push_back(std::move(hosts));
    }
    InventoryData inv;
    inv.build(std::move(groups), group_hosts);  // groups[0] is "all": every host
    return inv;
}

Inventory::Inventory(const Config& config) : config_(config) {
    Stamp now = stamp();
    loaded_ = std::make_shared<const Loaded>(Loaded{std::move(now), load(nullptr)});
}

Inventory::Stamp Inventory::stamp() const {
    Stamp out;
    auto add = [&](const fs::path& p) {
        struct stat st{};
        if (stat(p.c_str(), &st) == 0)
            out.emplace_back(p.string(), (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                             (long long)st.st_size);
    };
    add(config_.inventory);
    std::error_code ec;
    if (fs::is_directory(config_.inventory, ec))
        for (auto it = fs::recursive_directory_iterator(config_.inventory, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
            add(it->path());
    return out;
}

std::shared_ptr<const InventoryData> Inventory::load(const exed::Call* call) const {
    ProcessSpec spec;
    spec.argv = {"ansible-inventory", "-i", config_.inventory, "--list"};
    spec.env = ansible_env(config_);
    spec.cwd = config_.workdir;
    spec.kill_grace = config_.kill_grace;
    // A dynamic inventory script that hangs must not hang plugin init (no
    // call, so no cancel or deadline) nor a reload on an HTTP thread.
    spec.timeout = config_.inventory_timeout;
    std::string json;
    auto result = run_process(spec, call, [&](const std::string& line) { json += line + "\n"; });
    if (result.exit_code != 0)
        throw exed::Error(fmt::format("cannot read inventory {}: {}", config_.inventory,
                                      ansible_error_text(result.stderr_text)));
    try {
        return std::make_shared<const InventoryData>(from_json(json));
    } catch (const std::exception& e) {
        throw exed::Error(fmt::format("cannot read inventory {}: {}", config_.inventory, e.what()));
    }
}

bool Inventory::unchanged(const Stamp& s) const {
    struct stat st{};
    if (stat(config_.inventory.c_str(), &st) != 0) return s.empty();  // stamp() would be empty
    if (S_ISDIR(st.st_mode)) return stamp() == s;  // a directory: every file in it counts
    // A file: stamp() would be exactly {(inventory, mtime, size)}.
    return s.size() == 1 && std::get<0>(s[0]) == config_.inventory &&
           std::get<1>(s[0]) == (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec &&
           std::get<2>(s[0]) == (long long)st.st_size;
}

std::shared_ptr<const Inventory::Loaded> Inventory::loaded() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return loaded_;
}

std::shared_ptr<const InventoryData> Inventory::current(const exed::Call* call) {
    auto l = loaded();
    if (unchanged(l->stamp)) return l->data;
    std::lock_guard<std::mutex> reload(reload_mutex_);
    l = loaded();  // another thread may have reloaded while we waited
    Stamp now = stamp();
    if (now == l->stamp) return l->data;
    auto fresh = std::make_shared<const Loaded>(Loaded{std::move(now), load(call)});
    std::lock_guard<std::mutex> lock(mutex_);
    loaded_ = fresh;
    return fresh->data;
}

std::shared_ptr<const InventoryData> Inventory::if_fresh() const {
    auto l = loaded();
    return unchanged(l->stamp) ? l->data : nullptr;
}

}  // namespace exed::ansible
