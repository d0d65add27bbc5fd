#include "host_results.hpp"

#include "ansible_env.hpp"

#include <exed/sdk.hpp>

#include <algorithm>

namespace exed::ansible {

std::string result_message(const Object::Ptr& result) {
    for (const char* key : {"msg", "module_stderr", "stderr", "reason"}) {
        if (!result->has(key)) continue;
        auto v = result->get(key);
        if (v.isString() && !v.extract<std::string>().empty()) return v.extract<std::string>();
    }
    return "failed without a message";
}

Object::Ptr unreachable_body(const std::string& key, const Object::Ptr& result) {
    std::string msg = result_message(result);
    std::string stderr_text = result->optValue<std::string>("stderr", "");
    if (stderr_text.empty()) {
        // The ssh connection plugin folds ssh's stderr into msg after this.
        const std::string marker = "via ssh: ";
        auto at = msg.find(marker);
        stderr_text = at == std::string::npos ? msg : msg.substr(at + marker.size());
    }
    Object::Ptr body = new Object;
    body->set(key, int(kUnreachable));
    body->set("error", msg);
    body->set("stderr", stderr_text);
    return body;
}

bool HostResults::is_target(const std::string& host) const {
    return std::find(targets_.begin(), targets_.end(), host) != targets_.end();
}

void HostResults::finish(const std::string& host, const Object::Ptr& body) {
    bodies_[host] = body;
    call_.emit(host_event(host, body));
}

std::string HostResults::result_json(const ProcessResult& run) {
    if (bodies_.empty() && run.exit_code != 0) throw exed::Error(ansible_error_text(run.stderr_text));
    Object result;
    for (auto& host : targets_) {
        if (!finished(host)) {
            Object::Ptr body = new Object;
            if (run.exit_code == 0) {
                body->set(key_, int(kSkipped));  // ansible succeeded: nothing ran here
            } else {
                body->set(key_, int(kFailed));
                body->set("error", "ansible reported no result for this host: " +
                                       ansible_error_text(run.stderr_text));
            }
            finish(host, body);
        }
        result.set(host, bodies_[host]);
    }
    return to_json(result);
}

}  // namespace exed::ansible
