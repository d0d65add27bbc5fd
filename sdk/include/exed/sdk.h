/*
 * exed plugin SDK — the C ABI between the exed host and its plugins.
 *
 * ABI version 1.4 (EXED_ABI_MAJOR/EXED_ABI_MINOR below: the one place it
 * is written; CMake reads it from here). Stability promise: every 1.x host
 * loads every 1.y plugin with y <= x. Within major 1:
 *   - the first fields of every struct (struct_size, abi_major, abi_minor)
 *     never move; fields are only ever appended;
 *   - a reader uses an appended field only when the writer's struct_size
 *     covers it (EXED_HAS_FIELD) and, for function pointers, it is non-NULL.
 *
 * Nothing but C types crosses this boundary: no C++ types, no exceptions.
 * Payloads are UTF-8 JSON strings.
 *
 * Memory rules (who frees what):
 *   - Every `const char*` handed across is BORROWED for the duration of the
 *     call that passes it. The receiver copies what it wants to keep.
 *   - Plugins return results and errors through host callbacks
 *     (set_result, set_error, emit), which copy. Nothing a plugin allocates
 *     is ever freed by the host and vice versa.
 *   - The descriptor and ops table returned by the entry point are static
 *     data of the plugin and live until the library is unloaded.
 *
 * Threading (each slot below says on which threads it runs and how often):
 *   - init and fini are called once each, from one thread.
 *   - Operations may be called concurrently from several worker threads on
 *     the same plugin state: plugins must be thread-safe.
 *   - Every host API function is thread-safe and may be called from any
 *     thread while the call it names is running.
 *
 * History:
 *   1.0  first release.
 *   1.1  per-host status values and result keys declared here
 *        (exed_host_status, EXED_KEY_*); an operation slot may be NULL in a
 *        1.1 table: the host answers "unsupported" for it (a 1.0 table
 *        must fill every slot of its kind). No struct changed.
 *   1.2  exed_ops.nodes appended (optional executor op: the nodes the
 *        executor itself knows to be up or down, e.g. connected agents);
 *        exed_plugin_desc.secret_args appended: argument paths the plugin
 *        marks secret (shown as "***" in job reads, logs and audit).
 *   1.3  exed_host_api.job_id appended (the id of the call's job);
 *        exed_ops.resume appended (optional executor op: finish the work a
 *        lost worker of the same job started, instead of failing the job).
 *   1.4  exed_host_api.node_registry appended (the host's registry of agent
 *        node keys: which key a node name is bound to, and whether an
 *        operator accepted it). Later, source only: the operation names
 *        (EXED_OP_*), the service states (exed_service_state) and
 *        EXED_KEY_FACTS, spelled once here for exed and its plugins.
 */
#ifndef EXED_SDK_H
#define EXED_SDK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EXED_ABI_MAJOR 1
#define EXED_ABI_MINOR 4

/* The one symbol a plugin exports. */
#define EXED_PLUGIN_ENTRY_SYMBOL "exed_plugin_entry"

/* True when a struct written with size `s->struct_size` contains `field`. */
#define EXED_HAS_FIELD(s, type, field) \
    ((s)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* Status codes returned by operations and host functions. */
typedef enum exed_status {
    EXED_OK = 0,
    EXED_ERR = 1,           /* the operation failed (job Failure)          */
    EXED_ERR_BAD_INPUT = 2, /* the request is invalid (HTTP 400)           */
    EXED_ERR_NOT_FOUND = 3, /* a named thing does not exist (HTTP 404)     */
    EXED_ERR_CANCELLED = 4, /* stopped because the job was cancelled       */
    EXED_ERR_UNSUPPORTED = 5 /* this plugin does not implement the op      */
} exed_status;

/* Since 1.1. The per-host status of a result or event, under the key
 * EXED_KEY_STATUS. A job ends Failure when any host ends FAILED or
 * UNREACHABLE. (The numbers are EXEd's; "Skiped" was its spelling.) */
typedef enum exed_host_status {
    EXED_HOST_OK = 0,
    EXED_HOST_SKIPPED = 1,
    EXED_HOST_FAILED = 2,
    EXED_HOST_UNREACHABLE = 3,
    EXED_HOST_CHANGED = 4
} exed_host_status;

/* Since 1.1. The keys of a per-host body ({"web1": {...}}) the host reads;
 * everything else in it is passed to clients untouched.
 *   EXED_KEY_STATUS  the exed_host_status of the host;
 *   EXED_KEY_STATE   read instead when "status" is absent (facter's
 *                    results carry "state", as EXEd's did);
 *   EXED_KEY_TASK    present in an event that reports one task of a run
 *                    (deploy): such an event is progress, not the host's
 *                    result. */
#define EXED_KEY_STATUS "status"
#define EXED_KEY_STATE "state"
#define EXED_KEY_TASK "name"
/* Added within 1.4, source only (a later addition to the 1.4 headers: no
 * struct or value changed, so no minor bump; test `#ifdef EXED_OP_PING` to
 * build against an earlier copy). The key of facter's per-host facts
 * ({"web1": {"state": 0, "facter": {...}}}: EXEd's shape). */
#define EXED_KEY_FACTS "facter"

/* Added within 1.4, source only (as EXED_KEY_FACTS: a plugin using them
 * runs in any 1.x host). The operation names, as the `op` of check, resume and
 * run_executor requests, and as exed's API paths (POST /ping). The one
 * place they are spelled: exed itself reads them from here. */
#define EXED_OP_TARGETS "targets"
#define EXED_OP_PING "ping"
#define EXED_OP_FACTER "facter"
#define EXED_OP_SERVICE "service"
#define EXED_OP_EXECUTE "execute"
#define EXED_OP_DEPLOY "deploy"
#define EXED_OP_RELEASE "release"
#define EXED_OP_ROLLBACK "rollback"
#define EXED_OP_REVISION "revision"
#define EXED_OP_NODES "nodes"
#define EXED_OP_RESUME "resume"

/* Added within 1.4, source only. The `state` argument of service (EXEd's numbers;
 * its spelling was "Stoped"). RESTARTED with "graceful": true reloads. */
typedef enum exed_service_state {
    EXED_SERVICE_STARTED = 0,
    EXED_SERVICE_STOPPED = 1,
    EXED_SERVICE_RESTARTED = 2
} exed_service_state;
/* What a state outside them is told (HTTP 400). */
#define EXED_SERVICE_STATE_RULE "state must be 0 (started), 1 (stopped) or 2 (restarted)"

/* Log levels for host_api.log (syslog-like numbering). */
typedef enum exed_log_level {
    EXED_LOG_ERROR = 3,
    EXED_LOG_WARNING = 4,
    EXED_LOG_INFO = 6,
    EXED_LOG_DEBUG = 7
} exed_log_level;

/*
 * One invocation of a plugin function (init, an operation, a check).
 * Opaque; owned by the host; valid until that function returns.
 */
typedef struct exed_call exed_call;

/* Receives a JSON document; `json` is borrowed, copy it to keep it. */
typedef void (*exed_sink)(void* user, const char* json);

/*
 * Services the host offers to a plugin. Handed to init; the pointer stays
 * valid until fini returns, so a plugin may keep it.
 */
typedef struct exed_host_api {
    uint32_t struct_size; /* sizeof(exed_host_api) as the host knows it */
    uint32_t abi_major;   /* the host's ABI version */
    uint32_t abi_minor;

    /* Write one line to the host's error log, tagged with the plugin and,
     * when `call` belongs to a job, the job id. `call` may be NULL. */
    void (*log)(exed_call* call, int level, const char* message);

    /* Append one event to the running job's event stream, visible at once to
     * every follower of the job. `event_json` is a JSON object, by
     * convention keyed by host: {"web1": {"status": 0, ...}}. */
    void (*emit)(exed_call* call, const char* event_json);

    /* Set the final result of the call (JSON). Called at most once per call;
     * a later call replaces the earlier result. */
    void (*set_result)(exed_call* call, const char* result_json);

    /* Set the error message of a failing call. The operation then returns
     * the matching non-zero exed_status. */
    void (*set_error)(exed_call* call, const char* message);

    /* Non-zero once the job was cancelled or hit its run_timeout. Long
     * operations poll it and return EXED_ERR_CANCELLED. */
    int (*is_cancelled)(exed_call* call);

    /* Register a child process group the call has started, so the host can
     * kill it (SIGTERM, then SIGKILL after a grace period) on cancel or
     * timeout even while the plugin is blocked waiting for it. */
    void (*track_process)(exed_call* call, pid_t process_group);
    /* Forget a process group once it has been reaped. */
    void (*untrack_process)(exed_call* call, pid_t process_group);

    /* The plugin's config section ([<type>] in exe.conf) as a JSON object
     * of strings. Borrowed; valid until fini. */
    const char* (*config)(exed_call* call);

    /* Run an executor operation through the configured executor, in this
     * job (releasers use it; they never run commands themselves).
     * request_json: {"op": "execute", "args": {"targets": [...], ...}}.
     * Events of the inner operation are forwarded to this job's stream.
     * On EXED_OK `sink` receives the result JSON; on failure it receives
     * {"message": "..."}. Blocks until the inner operation ends. */
    int (*run_executor)(exed_call* call, const char* request_json,
                        exed_sink sink, void* user);

    /* Seconds since the epoch at which the job's run_timeout expires, or
     * 0 when it has none. Useful as a timeout for blocking waits. */
    int64_t (*deadline)(exed_call* call);

    /* Since 1.3 (use it when EXED_HAS_FIELD(host, exed_host_api, job_id)).
     * The id of the job `call` belongs to, "" outside a job (targets,
     * check, nodes). The same in a resumed call as in the call it resumes,
     * so an executor can name the work it starts after it (agent run ids). */
    const char* (*job_id)(exed_call* call);

    /* Since 1.4 (use it only when EXED_HAS_FIELD(host, exed_host_api,
     * node_registry) and it is non-NULL; an older host has no registry).
     * The host's node registry (docs/agent.md, Enrolment): each agent node
     * name is bound to one public key, pending until an operator accepts it.
     * `call` may be NULL (a listener thread outside any call). Requests:
     *   {"op":"present","node":N,"public_key":PEM,"remote":"addr:port"}
     *     -> {"state":"accepted"|"pending"|"rejected"|"mismatch"|"full",
     *         "fingerprint":F}: the caller verified that the peer holds the
     *     key; the host records a new name (pending, or accepted under
     *     [agent] auto_accept), and logs and audits every refusal. Only
     *     "accepted" may be served; "mismatch" = another key is bound to N.
     *   {"op":"get","node":N} -> {"name","state","fingerprint","first_seen",
     *     "last_seen"}, EXED_ERR_NOT_FOUND for an unknown name.
     *   {"op":"list"} -> {"nodes":[{...as get...}, ...]}
     *   {"op":"version"} -> {"version":N}: moves with every change of a key or
     *      state (not last_seen); re-read "list" only when it moved
     * On EXED_OK `sink` receives the answer, else {"message": "..."};
     * EXED_ERR_UNSUPPORTED when the host runs no registry. Threads: any;
     * blocks for one Redis round trip. */
    int (*node_registry)(exed_call* call, const char* request_json,
                         exed_sink sink, void* user);
} exed_host_api;

/*
 * Validate an operation's arguments before a job is created (see
 * exed_ops.check). `op` is the operation name, e.g. "deploy".
 */
typedef int (*exed_check_fn)(void* state, exed_call* call, const char* op,
                             const char* args_json);

/*
 * An operation: `args_json` is a JSON object (see docs/sdk.md for each
 * operation's arguments and result). Returns an exed_status; on EXED_OK the
 * result was given with set_result, otherwise the message with set_error.
 */
typedef int (*exed_op_fn)(void* state, exed_call* call, const char* args_json);

/*
 * The operations table. `struct_size` comes first so that later minor
 * versions can append operations: the host calls an operation only when
 * struct_size covers it and the pointer is non-NULL.
 */
typedef struct exed_ops {
    uint32_t struct_size; /* sizeof(exed_ops) as the plugin was built */

    /* Required. Create the plugin state. `config_json` is the plugin's
     * config section (same as host->config). Store the state in *state.
     * On failure set_error and return non-zero: the plugin is refused.
     * Threads: once, at start-up, on the main thread, before any other slot. */
    int (*init)(const exed_host_api* host, exed_call* call,
                const char* config_json, void** state);
    /* Required. Release the state. No operation runs during or after it.
     * Threads: once, at shutdown, after every call has returned. */
    void (*fini)(void* state);

    /* Optional. Validate an operation's arguments before a job is created,
     * so bad input gets HTTP 400/404 instead of a failed job. Return
     * EXED_ERR_BAD_INPUT or EXED_ERR_NOT_FOUND with set_error to refuse.
     * It has no job: emit, track_process and run_executor do nothing.
     * Threads: on request threads, concurrently with itself and with every
     * operation (also on other requests' jobs); the request waits for it:
     * it must be fast and must not start processes. */
    exed_check_fn check;

    /* Executor operations (kind "executor"; NULL for a releaser). A 1.0
     * table must fill all six; from 1.1 only `targets` is required and a
     * NULL slot is answered "unsupported" by the host.
     *
     * targets: expands one host pattern. Threads: on request threads,
     * concurrently with itself and every other slot, once per pattern of
     * every submit and GET /targets, before the job exists (no events, no
     * processes): answer from memory, never spawn per call. */
    exed_op_fn targets; /* {"pattern"}                        -> ["host", ...]  */
    /* ping ... deploy: run a job. Threads: on worker threads, concurrently
     * with each other and with targets/check, one call per job; a call may
     * block until its job ends and may call back into the host from any
     * thread (emit, is_cancelled, track_process, ...). Not re-entered for
     * the same job except through run_executor (a releaser's job runs an
     * executor op inside its own call). */
    exed_op_fn ping;    /* {"targets"}                        -> {host: {...}} */
    exed_op_fn facter;  /* {"targets"}                                          */
    exed_op_fn service; /* {"targets","name","state","graceful"}                */
    exed_op_fn execute; /* {"targets","cmd"}                                    */
    exed_op_fn deploy;  /* {"targets","role","partial","extra_vars"}            */

    /* Releaser operations (kind "releaser"; NULL for an executor). A 1.0
     * table must fill all three; from 1.1 a NULL slot is "unsupported".
     * Threads: as ping ... deploy. A releaser's op re-enters the host (and
     * the executor's ops) through run_executor, on the calling thread. */
    exed_op_fn release;  /* {"targets","appname","revision","extra_opts"}       */
    exed_op_fn rollback; /* {"targets","appname","revision","extra_opts"}       */
    exed_op_fn revision; /* {"targets","appname","extra_opts"}                  */

    /* Since 1.2; optional at every version (NULL: "unsupported"). Executor
     * only. The nodes whose liveness the executor tracks itself (the agent
     * executor: its connected agents), so the host need not ping them:
     *   {} -> {"nodes": [{"name": "web1", "status": "up"|"down",
     *                     "last_seen": <unix seconds>}, ...]}
     * Threads: on any thread, concurrently with every other slot, outside
     * any job (no events, no processes); the host calls it about once per
     * Shovey status_interval and per metrics scrape: answer from memory. */
    exed_op_fn nodes;

    /* Since 1.3; optional (NULL: a job whose worker was lost while it ran
     * a non-read-only op fails "worker lost", as before). Executor only.
     * Called instead, on a worker of a restarted exed (or after a plugin
     * host crash), with the lost call's op and arguments:
     *   {"op": "execute", "args": {"targets": [...], ...}} -> as the op
     * The executor reattaches to what the lost call started for this job
     * (host->job_id), e.g. commands still running on agents, and returns
     * the op's result with their whole output; it must never start the
     * work a second time. Return EXED_ERR_UNSUPPORTED when it cannot
     * resume that op (the job then fails as lost). Threads: as ping. */
    exed_op_fn resume;
} exed_ops;

/* What the entry point returns. Static data of the plugin. */
typedef struct exed_plugin_desc {
    uint32_t struct_size; /* sizeof(exed_plugin_desc) as the plugin was built */
    uint32_t abi_major;   /* EXED_ABI_MAJOR the plugin was built against */
    uint32_t abi_minor;   /* EXED_ABI_MINOR the plugin was built against */
    const char* kind;     /* "executor" or "releaser" */
    const char* type;     /* handler type key: "ansible", "salt", "common", ... */
    const char* name;     /* human-readable name, e.g. "common_release" */
    const char* version;  /* the plugin's own version, e.g. "1.2.0" */
    const exed_ops* ops;

    /* Since 1.2 (read only when struct_size covers it). NULL, or a
     * NULL-terminated array of argument paths this plugin marks secret:
     * dotted paths into an operation's arguments, e.g. "password" or
     * "extra_opts.token". exed never shows their values: job reads, logs
     * and the audit trail carry "***"; only the job record the worker reads
     * keeps them. Each path: 1-128 characters of [A-Za-z0-9_.-], at most 32
     * paths; a plugin that breaks this is refused at load. Static data. */
    const char* const* secret_args;
} exed_plugin_desc;

/* Signature of the exported entry point (EXED_PLUGIN_ENTRY_SYMBOL). */
typedef const exed_plugin_desc* (*exed_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* EXED_SDK_H */
