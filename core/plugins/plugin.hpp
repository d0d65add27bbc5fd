// A loaded, initialised plugin and the way the host invokes its operations.
#pragma once

#include <exed/sdk.h>

#include <boost/dll/shared_library.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <sys/types.h>

namespace exed::plugins {

// What the host knows of a plugin, from its descriptor.
struct PluginInfo {
    std::string kind;  // "executor" | "releaser"
    std::string type;  // handler type key
    std::string name;
    std::string version;
    uint32_t abi_major = 0;
    uint32_t abi_minor = 0;
    std::string path;  // the .so it came from
    // Argument paths the plugin marks secret (SDK 1.2), e.g. "extra_opts.token".
    std::vector<std::string> secret_args;
};

// The outcome of one invocation: status is an exed_status.
struct OpResult {
    int status = EXED_OK;
    std::string result;  // JSON given with set_result (may be empty)
    std::string error;   // message given with set_error
    bool ok() const { return status == EXED_OK; }
};

// What a running invocation can do to the world outside the plugin. The
// runner implements it for jobs; tests implement it to record events.
// Every method may be called from any thread of the plugin.
class CallHooks {
public:
    virtual ~CallHooks() = default;
    virtual void emit(const std::string& event_json) = 0;
    virtual bool cancelled() { return false; }
    virtual void track_process(pid_t) {}
    virtual void untrack_process(pid_t) {}
    // Runs an executor op for a releaser; fills `out` with the result or
    // {"message"} and returns an exed_status.
    virtual int run_executor(const std::string& request_json, std::string& out);
    virtual int64_t deadline() { return 0; }
    // The job id for log lines, or empty.
    virtual std::string job_id() const { return {}; }
    // A client running the op in another process (the plugin host) gives
    // the way to stop it there: hooks that can be stopped call it instead
    // of signalling the process groups themselves, so the far side sets its
    // cancel flag before its processes get SIGTERM and the op always sees
    // it was cancelled. Empty: back to signalling here.
    virtual void forward_stop(std::function<void()>) {}
};

class Plugin {
public:
    // Takes ownership of the library; `desc` points into it.
    Plugin(boost::dll::shared_library lib, const exed_plugin_desc* desc, PluginInfo info,
           std::string config_json);
    ~Plugin();
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    // Calls init. Returns false with `error` set when the plugin refuses.
    bool init(std::string& error);

    const PluginInfo& info() const { return info_; }
    const std::string& config_json() const { return config_; }
    bool has_op(const std::string& op) const;

    // Runs operation `op` (e.g. "ping") with JSON args. Never throws for
    // anything the plugin does; an unknown op gives EXED_ERR_UNSUPPORTED.
    OpResult invoke(const std::string& op, const std::string& args_json, CallHooks& hooks) const;
    // Runs the plugin's optional check; OK when it has none.
    OpResult check(const std::string& op, const std::string& args_json) const;

private:
    exed_op_fn op_fn(const std::string& op) const;

    boost::dll::shared_library lib_;  // keeps the code mapped while we live
    const exed_plugin_desc* desc_;
    PluginInfo info_;
    std::string config_;
    void* state_ = nullptr;
    bool initialised_ = false;
};

using PluginPtr = std::shared_ptr<Plugin>;

}  // namespace exed::plugins
