// The inventory as ansible sees it, cached in-process.
//
// Choice (see docs/ansible.md): we do not re-implement ansible's inventory
// parsers (INI, YAML, directories, ranges, plugins). `ansible-inventory
// --list` runs once at init and again only when a file of the inventory
// changed (mtime, size or the set of files); `targets` and target checks
// then never start a process. Patterns are evaluated in-process
// (host_pattern.hpp).
#pragma once

#include "config.hpp"
#include "host_pattern.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace exed {
class Call;
}

namespace exed::ansible {

class Inventory {
public:
    // Loads the inventory now; throws exed::Error with ansible's message.
    explicit Inventory(const Config& config);

    // The current inventory, reloaded first if a file changed.
    std::shared_ptr<const InventoryData> current(const exed::Call* call);
    // The cached inventory if no file changed, else nullptr. Never starts a
    // process (for check(), which runs on an HTTP thread).
    std::shared_ptr<const InventoryData> if_fresh() const;

    // Builds InventoryData from `ansible-inventory --list` JSON.
    static InventoryData from_json(const std::string& json);

private:
    using Stamp = std::vector<std::tuple<std::string, long long, long long>>;
    Stamp stamp() const;
    std::shared_ptr<const InventoryData> load(const exed::Call* call) const;

    const Config& config_;
    mutable std::mutex mutex_;
    Stamp stamp_;
    std::shared_ptr<const InventoryData> data_;
};

}  // namespace exed::ansible
