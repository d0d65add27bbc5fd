// exed plugin SDK — header-only C++ layer over the C ABI in sdk.h.
//
// Write an ordinary class and export it with one macro:
//
//   class Hello : public exed::Executor {
//   public:
//     Hello(const exed::Host& host, const std::string& config_json);
//     std::string targets(exed::Call& call, const std::string& args) override;
//     ...
//   };
//   EXED_EXECUTOR(Hello, "hello", "hello_executor", "1.0.0")
//
// Exceptions never cross the ABI: the adapters below catch everything and
// turn it into a status code plus a message (exed::BadInput -> 400,
// exed::NotFound -> 404, exed::Cancelled, exed::Unsupported, anything else
// -> job failure).
//
// Since 1.1: only `targets` (executors) must be written; an op a class does
// not override stays out of the ops table and the host answers
// "unsupported" for it, naming the plugin and the op. Ops may come from an
// intermediate base class (class Mine : public MyBase, MyBase : exed::Executor).
// Nothing here is compiled into the host; each plugin gets its own copy.
#ifndef EXED_SDK_HPP
#define EXED_SDK_HPP

#include <exed/sdk.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <sys/types.h>

namespace exed {

// An error that carries the ABI status it becomes.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what, exed_status code = EXED_ERR)
        : std::runtime_error(what), code_(code) {}
    exed_status code() const noexcept { return code_; }

private:
    exed_status code_;
};
struct BadInput : Error {
    explicit BadInput(const std::string& w) : Error(w, EXED_ERR_BAD_INPUT) {}
};
struct NotFound : Error {
    explicit NotFound(const std::string& w) : Error(w, EXED_ERR_NOT_FOUND) {}
};
struct Cancelled : Error {
    Cancelled() : Error("cancelled", EXED_ERR_CANCELLED) {}
};
struct Unsupported : Error {
    explicit Unsupported(const std::string& w) : Error(w, EXED_ERR_UNSUPPORTED) {}
};

// The host, as seen from a plugin for its whole life (logging outside a call).
class Host {
public:
    explicit Host(const exed_host_api* api) : api_(api) {}
    const exed_host_api* api() const { return api_; }
    void log(int level, const std::string& message) const {
        api_->log(nullptr, level, message.c_str());
    }
    // Since 1.4: the host's node registry (sdk.h, node_registry). Returns
    // the answer; throws Unsupported on an older host, Error on failure.
    std::string node_registry(const std::string& request_json) const {
        if (!EXED_HAS_FIELD(api_, exed_host_api, node_registry) || !api_->node_registry)
            throw Unsupported("this exed has no node registry (SDK < 1.4)");
        std::string out;
        int rc = api_->node_registry(nullptr, request_json.c_str(), &Host::copy_to, &out);
        if (rc != EXED_OK) throw Error(out, static_cast<exed_status>(rc));
        return out;
    }

private:
    static void copy_to(void* user, const char* json) {
        *static_cast<std::string*>(user) = json ? json : "";
    }
    const exed_host_api* api_;
};

// One running invocation: emit events, watch for cancel, drive the executor.
class Call {
public:
    Call(const exed_host_api* api, exed_call* call) : api_(api), call_(call) {}

    void emit(const std::string& event_json) const { api_->emit(call_, event_json.c_str()); }
    bool cancelled() const { return api_->is_cancelled(call_) != 0; }
    // Throws Cancelled when the job was cancelled: a one-line checkpoint.
    void check_cancelled() const {
        if (cancelled()) throw Cancelled();
    }
    void log(int level, const std::string& message) const {
        api_->log(call_, level, message.c_str());
    }
    void track_process(pid_t pgid) const { api_->track_process(call_, pgid); }
    void untrack_process(pid_t pgid) const { api_->untrack_process(call_, pgid); }
    std::string config() const {
        const char* c = api_->config(call_);
        return c ? c : "{}";
    }
    int64_t deadline() const { return api_->deadline(call_); }
    // The call's job id ("" outside a job, or on a host older than 1.3).
    std::string job_id() const {
        if (!EXED_HAS_FIELD(api_, exed_host_api, job_id) || !api_->job_id) return "";
        const char* id = api_->job_id(call_);
        return id ? id : "";
    }

    // Runs an executor operation in this job and returns its result JSON.
    // request_json: {"op": "...", "args": {...}}. Throws Error on failure.
    std::string run_executor(const std::string& request_json) const {
        std::string out;
        int rc = api_->run_executor(call_, request_json.c_str(), &Call::copy_to, &out);
        if (rc != EXED_OK) throw Error(out, static_cast<exed_status>(rc));
        return out;
    }

    exed_call* raw() const { return call_; }
    const exed_host_api* api() const { return api_; }

private:
    static void copy_to(void* user, const char* json) {
        *static_cast<std::string*>(user) = json ? json : "";
    }
    const exed_host_api* api_;
    exed_call* call_;
};

// Base of every plugin class. check() may refuse bad input before a job exists.
class Plugin {
public:
    virtual ~Plugin() = default;
    virtual void check(Call&, const std::string& /*op*/, const std::string& /*args_json*/) {}
};

// Each operation takes its JSON arguments and returns its JSON result.
// Threads: see each slot in sdk.h (targets and check run on request threads,
// concurrently; the others on worker threads, concurrently).
// The defaults are never called by the host (their slots stay empty); they
// throw Unsupported in case a subclass calls one.
#define EXED_UNSUPPORTED_OP_(op)                                               \
    virtual std::string op(Call&, const std::string&) {                        \
        throw Unsupported("operation '" #op "' is not implemented");          \
    }

class Executor : public Plugin {
public:
    virtual std::string targets(Call& call, const std::string& args_json) = 0;
    EXED_UNSUPPORTED_OP_(ping)
    EXED_UNSUPPORTED_OP_(facter)
    EXED_UNSUPPORTED_OP_(service)
    EXED_UNSUPPORTED_OP_(execute)
    EXED_UNSUPPORTED_OP_(deploy)
    EXED_UNSUPPORTED_OP_(nodes)  // since 1.2: {} -> {"nodes": [{"name","status","last_seen"}]}
    EXED_UNSUPPORTED_OP_(resume)  // since 1.3: {"op","args"} of a lost call -> the op's result
};

class Releaser : public Plugin {
public:
    EXED_UNSUPPORTED_OP_(release)
    EXED_UNSUPPORTED_OP_(rollback)
    EXED_UNSUPPORTED_OP_(revision)
};
#undef EXED_UNSUPPORTED_OP_

namespace detail {

template <class T>
struct Instance {
    const exed_host_api* api;
    std::unique_ptr<T> object;
};

// Runs `fn`, turning any exception into set_error + a status code.
template <class Fn>
int guarded(const exed_host_api* api, exed_call* call, Fn&& fn) noexcept {
    try {
        fn();
        return EXED_OK;
    } catch (const Error& e) {
        api->set_error(call, e.what());
        return e.code();
    } catch (const std::exception& e) {
        api->set_error(call, e.what());
        return EXED_ERR;
    } catch (...) {
        api->set_error(call, "unknown exception in plugin");
        return EXED_ERR;
    }
}

template <class T>
struct Adapter {
    // An op's method as declared by `Base` (T itself or a base class of it).
    template <class Base>
    using Method = std::string (Base::*)(Call&, const std::string&);

    static int init(const exed_host_api* api, exed_call* call, const char* cfg, void** state) {
        return guarded(api, call, [&] {
            auto inst = std::make_unique<Instance<T>>();
            inst->api = api;
            inst->object = std::make_unique<T>(Host(api), std::string(cfg ? cfg : "{}"));
            *state = inst.release();
        });
    }
    static void fini(void* state) { delete static_cast<Instance<T>*>(state); }

    static int check(void* state, exed_call* call, const char* op, const char* args) {
        auto* inst = static_cast<Instance<T>*>(state);
        return guarded(inst->api, call, [&] {
            Call c(inst->api, call);
            inst->object->check(c, op ? op : "", args ? args : "{}");
        });
    }

    // `auto`: &T::ping has the type of the class that declares it, which
    // may be a base of T; it still applies to a T.
    template <auto M>
    static int op(void* state, exed_call* call, const char* args) {
        auto* inst = static_cast<Instance<T>*>(state);
        return guarded(inst->api, call, [&] {
            Call c(inst->api, call);
            std::string result = ((*inst->object).*M)(c, args ? args : "{}");
            inst->api->set_result(call, result.c_str());
        });
    }

    static exed_ops base_ops() {
        exed_ops ops{};
        ops.struct_size = sizeof(exed_ops);
        ops.init = &Adapter::init;
        ops.fini = &Adapter::fini;
        ops.check = &Adapter::check;
        return ops;
    }
    // The slot of method M: empty when M is still the default of `Kind`
    // (nobody between Kind and T overrides it).
    template <class Kind, auto M>
    static exed_op_fn slot() {
        if constexpr (std::is_same_v<decltype(M), Method<Kind>>) return nullptr;
        else return &op<M>;
    }

    static exed_ops executor_ops() {
        exed_ops ops = base_ops();
        ops.targets = &op<&T::targets>;
        ops.ping = slot<Executor, &T::ping>();
        ops.facter = slot<Executor, &T::facter>();
        ops.service = slot<Executor, &T::service>();
        ops.execute = slot<Executor, &T::execute>();
        ops.deploy = slot<Executor, &T::deploy>();
        ops.nodes = slot<Executor, &T::nodes>();
        ops.resume = slot<Executor, &T::resume>();
        return ops;
    }
    static exed_ops releaser_ops() {
        exed_ops ops = base_ops();
        ops.release = slot<Releaser, &T::release>();
        ops.rollback = slot<Releaser, &T::rollback>();
        ops.revision = slot<Releaser, &T::revision>();
        return ops;
    }
};

// A plugin class may declare the argument paths it marks secret (sdk.h,
// exed_plugin_desc.secret_args):
//   static constexpr const char* secret_args[] = {"password", "extra_opts.token", nullptr};
template <class T, class = void>
struct SecretArgsOf {
    static constexpr const char* const* get() { return nullptr; }
};
template <class T>
struct SecretArgsOf<T, std::void_t<decltype(T::secret_args)>> {
    static constexpr const char* const* get() { return T::secret_args; }
};

}  // namespace detail
}  // namespace exed

#define EXED_EXPORT_ __attribute__((visibility("default")))

#define EXED_PLUGIN_DEFINE_(Class, kind_, ops_fn, type_, name_, version_)         \
    extern "C" EXED_EXPORT_ const exed_plugin_desc* exed_plugin_entry(void) {     \
        static const exed_ops ops = exed::detail::Adapter<Class>::ops_fn();        \
        static const exed_plugin_desc desc = {sizeof(exed_plugin_desc),            \
                                              EXED_ABI_MAJOR,                      \
                                              EXED_ABI_MINOR,                      \
                                              kind_,                               \
                                              type_,                               \
                                              name_,                               \
                                              version_,                            \
                                              &ops,                                \
                                              exed::detail::SecretArgsOf<Class>::get()}; \
        return &desc;                                                              \
    }

// Export `Class` (derived from exed::Executor) as the plugin of this library.
#define EXED_EXECUTOR(Class, type, name, version) \
    EXED_PLUGIN_DEFINE_(Class, "executor", executor_ops, type, name, version)

// Export `Class` (derived from exed::Releaser) as the plugin of this library.
#define EXED_RELEASER(Class, type, name, version) \
    EXED_PLUGIN_DEFINE_(Class, "releaser", releaser_ops, type, name, version)

#endif  // EXED_SDK_HPP
