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
    // A snapshot and the stamp of the files it was read from; replaced
    // whole on reload, never modified.
    struct Loaded {
        Stamp stamp;
        std::shared_ptr<const InventoryData> data;
    };
    Stamp stamp() const;
    // stamp() == s, without building a Stamp for a one-file inventory: one
    // stat() and no allocation (check() and targets() ask on every request).
    bool unchanged(const Stamp& s) const;
    std::shared_ptr<const Loaded> loaded() const;
    std::shared_ptr<const InventoryData> load(const exed::Call* call) const;

    const Config& config_;
    // One reload at a time (it runs ansible-inventory). Not held by
    // if_fresh(), nor while the files are stat'ed on the fresh path: 64
    // HTTP threads used to queue on one mutex held across that stat().
    std::mutex reload_mutex_;
    mutable std::mutex mutex_;  // guards loaded_; held only to copy or swap it
    std::shared_ptr<const Loaded> loaded_;
};

}  // namespace exed::ansible
