#include "operate/read_only_call.hpp"

#include "catalogue.hpp"
#include "errors.hpp"
#include "json.hpp"

#include <Poco/JSON/Object.h>

namespace exed::operate {

namespace {

// Hooks of a call outside any job: there is no event stream to write to;
// `cancelled` lets the executor stop its processes when the caller stops.
class NoJobHooks : public plugins::CallHooks {
public:
    explicit NoJobHooks(const std::atomic<bool>& stop) : stop_(stop) {}
    void emit(const std::string&) override {}
    bool cancelled() override { return stop_.load(); }

private:
    const std::atomic<bool>& stop_;
};

}  // namespace

ReadOnlyAnswer ReadOnlyCall::run(const Submission& s, const std::atomic<bool>& stop) {
    const auto* op = catalogue::find(s.operate);
    if (!op || !op->read_only)
        throw DomainError(Errc::invalid, "'" + s.operate + "' is not a read-only operation: it runs as a job");
    jobs::Job call = submitter_.prepare(s);
    ReadOnlyAnswer answer;
    answer.hosts = call.targets;
    NoJobHooks hooks(stop);
    auto r = client_.run({call.plugin_kind, call.plugin_type}, call.plugin_op, call.operate_args, hooks);
    if (!r.ok()) {
        answer.error = r.error.empty() ? "the operation failed" : r.error;
        return answer;
    }
    try {
        auto results = parse_json(r.result).extract<Poco::JSON::Object::Ptr>();
        for (auto& host : answer.hosts)
            if (results->has(host)) answer.results[host] = results->get(host);
    } catch (const Poco::Exception&) {
        answer.error = "the executor's answer is not an object keyed by host";
    }
    return answer;
}

}  // namespace exed::operate
