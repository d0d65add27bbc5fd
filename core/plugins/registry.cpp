#include "plugins/registry.hpp"

#include "catalogue.hpp"

#include <Poco/Logger.h>

#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

namespace exed::plugins {

namespace fs = std::filesystem;

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.plugins"); }

// Every 1.x ops table holds at least the fields of 1.0's, which ends with
// `revision`. A table claiming less was not built from any 1.x header.
constexpr size_t kOpsSize_1_0 = offsetof(exed_ops, revision) + sizeof(exed_op_fn);

// The operations a plugin cannot do without. An ABI 1.0 plugin must fill
// every slot of its kind (1.0 had no way to say "not implemented"); from
// 1.1 an empty slot answers "unsupported", and only an executor's target
// expansion is required (nothing can be submitted without it).
std::string missing_required_op(const exed_plugin_desc* d, catalogue::Kind kind) {
    const exed_ops* ops = d->ops;
    if (!ops->init || !ops->fini) return "init/fini";
    for (const auto& op : catalogue::plugin_ops()) {
        if (op.kind != kind) continue;
        bool required = !op.optional && (d->abi_minor == 0 || op.name == std::string(catalogue::expand_op));
        if (required && !catalogue::slot(ops, op)) return op.name;
    }
    return {};
}

}  // namespace

Registry::Registry(ConfigFor config_for) : config_for_(std::move(config_for)) {}

void Registry::refuse(const std::string& path, const std::string& reason) {
    logger().error(fmt::format("plugin refused: {}: {}", path, reason));
    std::lock_guard<std::mutex> lock(mutex_);
    refusals_.push_back({path, reason});
}

void Registry::load_dirs(const std::vector<std::string>& dirs) {
    for (const auto& dir : dirs) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            logger().debug(fmt::format("plugin dir {} does not exist, skipped", dir));
            continue;
        }
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            if (entry.is_regular_file(ec) && entry.path().extension() == ".so")
                files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) load_file(f.string());
    }
}

// The descriptor's secret_args (SDK 1.2): bounded and checked, because a
// path is matched against every job's arguments. Empty result: fine.
static std::string read_secret_args(const exed_plugin_desc* d, std::vector<std::string>& out) {
    if (!EXED_HAS_FIELD(d, exed_plugin_desc, secret_args) || !d->secret_args) return {};
    constexpr size_t kMaxPaths = 32, kMaxLength = 128;
    for (size_t i = 0; d->secret_args[i]; ++i) {
        if (i == kMaxPaths) return fmt::format("secret_args: more than {} paths", kMaxPaths);
        std::string p = d->secret_args[i];
        bool ok = !p.empty() && p.size() <= kMaxLength && p.front() != '.' && p.back() != '.' &&
                  p.find("..") == std::string::npos &&
                  std::all_of(p.begin(), p.end(), [](unsigned char c) {
                      return std::isalnum(c) || c == '_' || c == '.' || c == '-';
                  });
        if (!ok) return fmt::format("secret_args: '{}' is not a dotted argument path (1-{} of [A-Za-z0-9_.-])",
                                    p.substr(0, kMaxLength), kMaxLength);
        out.push_back(p);
    }
    return {};
}

namespace {

// What makes a plugin's descriptor unusable before anything of it is
// read past what its sizes cover; empty when it is usable.
std::string descriptor_problem(const exed_plugin_desc* d) {
    if (!d) return "entry point returned no descriptor";
    if (d->struct_size < offsetof(exed_plugin_desc, abi_minor) + sizeof(d->abi_minor))
        return "descriptor too small to carry an ABI version";
    if (d->abi_major != EXED_ABI_MAJOR || d->abi_minor > EXED_ABI_MINOR)
        return fmt::format("incompatible ABI: plugin {}.{}, host {}.{} (needs major {} and minor <= {})",
                           d->abi_major, d->abi_minor, EXED_ABI_MAJOR, EXED_ABI_MINOR, EXED_ABI_MAJOR,
                           EXED_ABI_MINOR);
    if (!EXED_HAS_FIELD(d, exed_plugin_desc, ops) || !d->ops || !d->kind || !d->type || !d->name || !d->version)
        return "descriptor lacks kind, type, name, version or ops";
    // Nothing of the ops table is read before its size is known to cover it.
    if (d->ops->struct_size < kOpsSize_1_0)
        return fmt::format("ops table too small: struct_size {} < {} (ABI 1.0's table)", d->ops->struct_size,
                           kOpsSize_1_0);
    return {};
}

}  // namespace

bool Registry::load_file(const std::string& path) {
    namespace dll = boost::dll;
    dll::shared_library lib;
    // rtld_now: an unresolved symbol fails here, at load, not mid-job.
    // rtld_local: plugins cannot see (or clash with) each other's symbols.
    boost::dll::fs::error_code ec;
    lib.load(path, dll::load_mode::rtld_now | dll::load_mode::rtld_local, ec);
    if (ec) {
        refuse(path, "cannot load: " + ec.message());
        return false;
    }
    if (!lib.has(EXED_PLUGIN_ENTRY_SYMBOL)) {
        refuse(path, std::string("missing entry point ") + EXED_PLUGIN_ENTRY_SYMBOL);
        return false;
    }
    auto entry = lib.get<const exed_plugin_desc*()>(EXED_PLUGIN_ENTRY_SYMBOL);
    const exed_plugin_desc* d = entry();
    if (std::string why = descriptor_problem(d); !why.empty()) {
        refuse(path, why);
        return false;
    }
    PluginInfo info{d->kind, d->type, d->name, d->version, d->abi_major, d->abi_minor, path, {}};
    if (std::string why = read_secret_args(d, info.secret_args); !why.empty()) {
        refuse(path, why);
        return false;
    }
    catalogue::Kind kind;
    if (!catalogue::kind_of(info.kind, kind)) {
        refuse(path, "unknown kind '" + info.kind + "' (expected executor or releaser)");
        return false;
    }
    if (info.type.empty()) {
        refuse(path, "empty type");
        return false;
    }
    if (std::string missing = missing_required_op(d, kind); !missing.empty()) {
        refuse(path, info.kind + " lacks required operation " + missing);
        return false;
    }
    PluginPtr existing = find(info.kind, info.type);
    if (existing) {
        refuse(path, fmt::format("duplicate {} type '{}' (already loaded from {})", info.kind,
                                 info.type, existing->info().path));
        return false;
    }
    std::string config = config_for_ ? config_for_(info.type) : "{}";
    auto plugin = std::make_shared<Plugin>(std::move(lib), d, info, config);
    std::string error;
    if (!plugin->init(error)) {
        refuse(path, "init failed: " + error);
        return false;
    }
    {
        // Loading is single-threaded at start-up; emplace still refuses to
        // replace a plugin registered meanwhile.
        std::lock_guard<std::mutex> lock(mutex_);
        plugins_.emplace(std::make_pair(info.kind, info.type), plugin);
    }
    logger().information(fmt::format("plugin loaded: {} {} '{}' {} (ABI {}.{}) from {}", info.kind,
                                     info.type, info.name, info.version, info.abi_major,
                                     info.abi_minor, path));
    return true;
}

PluginPtr Registry::find(const std::string& kind, const std::string& type) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plugins_.find({kind, type});
    return it == plugins_.end() ? nullptr : it->second;
}

void Registry::mirror(std::vector<PluginInfo> loaded, std::vector<Refusal> refused) {
    std::lock_guard<std::mutex> lock(mutex_);
    mirrored_ = std::move(loaded);
    mirrored_refusals_ = std::move(refused);
}

std::vector<PluginInfo> Registry::list() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<PluginInfo> out;
    for (const auto& [key, p] : plugins_) out.push_back(p->info());
    out.insert(out.end(), mirrored_.begin(), mirrored_.end());
    return out;
}

std::vector<Refusal> Registry::refusals() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Refusal> out = refusals_;
    out.insert(out.end(), mirrored_refusals_.begin(), mirrored_refusals_.end());
    return out;
}

std::vector<PluginInfo> Registry::list(const std::string& kind) const {
    std::vector<PluginInfo> out;
    for (auto& info : list())
        if (info.kind == kind) out.push_back(info);
    return out;
}

}  // namespace exed::plugins
