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
    InventoryData inv;
    // Groups in breadth-first order from "all", as ansible lists children.
    std::deque<std::string> queue{"all"};
    std::set<std::string> seen{"all"};
    while (!queue.empty()) {
        std::string g = queue.front();
        queue.pop_front();
        inv.groups.push_back(g);
        if (auto obj = group_obj(g))
            for (auto& child : strings_of(obj, "children"))
                if (seen.insert(child).second) queue.push_back(child);
    }
    // A group's hosts: its own, then its descendants', first seen first.
    for (auto& g : inv.groups) {
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
        inv.group_hosts[g] = hosts;
    }
    inv.hosts = inv.group_hosts["all"];
    return inv;
}

Inventory::Inventory(const Config& config) : config_(config) {
    std::lock_guard<std::mutex> lock(mutex_);
    stamp_ = stamp();
    data_ = load(nullptr);
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

std::shared_ptr<const InventoryData> Inventory::current(const exed::Call* call) {
    std::lock_guard<std::mutex> lock(mutex_);
    Stamp now = stamp();
    if (now != stamp_) {
        data_ = load(call);
        stamp_ = now;
    }
    return data_;
}

std::shared_ptr<const InventoryData> Inventory::if_fresh() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stamp() == stamp_ ? data_ : nullptr;
}

}  // namespace exed::ansible
