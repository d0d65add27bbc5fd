#include "runner/job_call.hpp"

#include "catalogue.hpp"
#include "json.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <fmt/format.h>

namespace exed::runner {

namespace {

plugins::OpResult failed(const std::string& error) {
    plugins::OpResult r;
    r.status = EXED_ERR;
    r.error = error;
    return r;
}

// One call: the document made and signed at submit, targets included, as
// is; or, to resume, the lost call ({op, args}) for the executor's resume.
plugins::OpResult call_once(plugins::ExecutorClient& client, const plugins::PluginRef& plugin,
                            const jobs::Job& job, JobHooks& hooks, bool resume) {
    if (!resume) return client.run(plugin, job.plugin_op, job.operate_args, hooks);
    Poco::JSON::Object lost;
    lost.set("op", job.plugin_op);
    lost.set("args", parse_json(job.operate_args));
    return client.run(plugin, catalogue::resume_op, json_string(lost), hooks);
}

}  // namespace

plugins::OpResult call_job(plugins::ExecutorClient& client, CrashPolicy& policy, const jobs::Job& job,
                           JobHooks& hooks, const std::string& worker, bool resume) {
    plugins::PluginRef plugin{job.plugin_kind, job.plugin_type};
    try {
        if (!client.available(plugin))
            return failed(fmt::format("{} plugin '{}' is not loaded on worker {}", job.plugin_kind,
                                      job.plugin_type, worker));
        Poco::Logger::get("exed.runner")
            .information(fmt::format("[{}] {} on {} host(s) by {}", job.jid, job.operate, job.targets.size(),
                                     worker));
        auto r = call_once(client, plugin, job, hooks, resume);
        int bystander_reruns = 0;
        while (policy.again(job, hooks, r, resume, bystander_reruns)) r = call_once(client, plugin, job, hooks, resume);
        return r;
    } catch (const std::exception& e) {
        return failed(std::string("the plugin call failed: ") + e.what());
    } catch (...) {
        return failed("the plugin call failed: unknown exception");
    }
}

}  // namespace exed::runner
