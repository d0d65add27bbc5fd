// The host side of the C ABI: the exed_host_api table and exed_call.
//
// An exed_call wraps one invocation: it collects the result and error the
// plugin hands back (copying, as the ABI promises) and forwards everything
// else to the CallHooks of whoever invoked the plugin.
//
// What a plugin hands back is data from the world (a command's output may
// be any bytes): it is made valid UTF-8 here, invalid bytes as U+FFFD, so
// no event, result or error of a plugin is JSON that exed cannot read back
// (utf8.hpp), in process or through the plugin host.
#include "plugins/call.hpp"

#include "nodes/host_entry.hpp"
#include "utf8.hpp"

#include <Poco/Logger.h>

#include <fmt/format.h>

namespace exed::plugins {

namespace {

Poco::Logger& plugin_logger() { return Poco::Logger::get("exed.plugin"); }

void api_log(exed_call* call, int level, const char* message) {
    std::string who = call ? call->plugin_type : std::string("plugin");
    std::string line = message ? message : "";
    if (call && call->hooks) {
        std::string jid = call->hooks->job_id();
        if (!jid.empty()) line = fmt::format("[{}] {}", jid, line);
    }
    line = fmt::format("{}: {}", who, line);
    auto& log = plugin_logger();
    switch (level) {
        case EXED_LOG_ERROR: log.error(line); break;
        case EXED_LOG_WARNING: log.warning(line); break;
        case EXED_LOG_INFO: log.information(line); break;
        default: log.debug(line); break;
    }
}

void api_emit(exed_call* call, const char* json) {
    if (call && call->hooks && json) call->hooks->emit(repaired_utf8(json));
}

void api_set_result(exed_call* call, const char* json) {
    if (!call) return;
    std::lock_guard<std::mutex> lock(call->mutex);
    call->result = json ? repaired_utf8(json) : "";
}

void api_set_error(exed_call* call, const char* message) {
    if (!call) return;
    std::lock_guard<std::mutex> lock(call->mutex);
    call->error = message ? repaired_utf8(message) : "";
}

int api_is_cancelled(exed_call* call) {
    return call && call->hooks && call->hooks->cancelled() ? 1 : 0;
}

void api_track(exed_call* call, pid_t pgid) {
    if (call && call->hooks) call->hooks->track_process(pgid);
}

void api_untrack(exed_call* call, pid_t pgid) {
    if (call && call->hooks) call->hooks->untrack_process(pgid);
}

const char* api_config(exed_call* call) {
    return call && call->config ? call->config->c_str() : "{}";
}

int api_run_executor(exed_call* call, const char* request, exed_sink sink, void* user) {
    std::string out;
    int rc = EXED_ERR_UNSUPPORTED;
    if (call && call->hooks) {
        rc = call->hooks->run_executor(request ? request : "{}", out);
    } else {
        out = R"({"message":"run_executor is not available in this call"})";
    }
    if (sink) sink(user, out.c_str());
    return rc;
}

int64_t api_deadline(exed_call* call) {
    return call && call->hooks ? call->hooks->deadline() : 0;
}

const char* api_job_id(exed_call* call) {
    if (!call || !call->hooks) return "";
    // Kept in the call, set once: the pointer stays valid as long as the call.
    std::lock_guard<std::mutex> lock(call->mutex);
    if (!call->job_id_set) {
        call->job_id = call->hooks->job_id();
        call->job_id_set = true;
    }
    return call->job_id.c_str();
}

// The node registry of this process (nodes/host_entry.hpp): exed's own, or
// the plugin host's, each with its own Redis pool.
int api_node_registry(exed_call*, const char* request, exed_sink sink, void* user) {
    std::string out;
    int rc = nodes::serve_request(request ? request : "", out);
    if (sink) sink(user, out.c_str());
    return rc;
}

}  // namespace

const exed_host_api* host_api() {
    static const exed_host_api api = {
        sizeof(exed_host_api), EXED_ABI_MAJOR, EXED_ABI_MINOR,
        &api_log,     &api_emit,          &api_set_result, &api_set_error,
        &api_is_cancelled, &api_track,    &api_untrack,    &api_config,
        &api_run_executor, &api_deadline, &api_job_id, &api_node_registry,
    };
    return &api;
}

int CallHooks::run_executor(const std::string&, std::string& out) {
    out = R"({"message":"this call cannot run executor operations"})";
    return EXED_ERR_UNSUPPORTED;
}

}  // namespace exed::plugins
