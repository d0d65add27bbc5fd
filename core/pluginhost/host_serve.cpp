#include "pluginhost/host_serve.hpp"

#include "plugins/run_executor.hpp"
#include "pluginhost/crash_report.hpp"
#include "pluginhost/protocol.hpp"
#include "pluginhost/tracked_groups.hpp"

#include <exed/sdk.h>

#include <Poco/Logger.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <set>

#include <signal.h>

namespace exed::pluginhost {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("exed.pluginhost"); }

}  // namespace

// The hooks of one run inside the host: what the plugin does to the world
// goes back to exed as frames; cancel comes from exed; run_executor is
// served here, by the executor loaded next to the releaser.
class RemoteHooks : public plugins::CallHooks {
public:
    RemoteHooks(FrameWriter& out, plugins::ExecutorClient& client, int64_t id, int64_t deadline,
                std::string job)
        : out_(out), client_(client), id_(id), deadline_(deadline), job_(std::move(job)) {}

    void emit(const std::string& event_json) override {
        {
            // Back-pressure (protocol.hpp): wait while exed has a window's
            // worth of this run's events unhandled; not once exed is gone.
            std::unique_lock<std::mutex> lock(mutex_);
            credit_.wait(lock, [this] { return in_flight_ < kEmitWindow || closed_; });
            in_flight_ += event_json.size();
        }
        Poco::JSON::Object m;
        m.set("t", "emit");
        m.set("id", id_);
        m.set("e", event_json);
        if (out_.write(m) == Sent::too_large) {  // dropped (past kMaxFrame): no credit will come
            logger().warning(fmt::format("[{}] an event of {} bytes is past the frame limit: dropped", job_,
                                         event_json.size()));
            credit(event_json.size());
        }
    }
    bool cancelled() override { return cancelled_.load(); }
    void track_process(pid_t pgid) override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            groups_.insert(pgid);
            remember_group(pgid);
            if (cancelled_) kill(-pgid, SIGTERM);  // started after the cancel
        }
        send_pgid("track", pgid);
    }
    void untrack_process(pid_t pgid) override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            groups_.erase(pgid);
            forget_group(pgid);
        }
        send_pgid("untrack", pgid);
    }
    int run_executor(const std::string& request_json, std::string& out) override {
        return plugins::run_executor_request(client_, request_json, out, *this);
    }
    int64_t deadline() override { return deadline_; }
    std::string job_id() const override { return job_; }

    // exed handled `bytes` of this run's events.
    void credit(size_t bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        in_flight_ -= std::min(bytes, in_flight_);
        credit_.notify_all();
    }
    // exed closed the socket: nothing waits for credit any more.
    void close() {
        std::lock_guard<std::mutex> lock(mutex_);
        closed_ = true;
        credit_.notify_all();
    }

    // exed's cancel (or run_timeout): the flag first, then SIGTERM, so
    // an op whose command dies of it knows why (exed SIGKILLs what is
    // left after the grace period).
    void cancel() {
        std::lock_guard<std::mutex> lock(mutex_);
        cancelled_ = true;
        for (pid_t g : groups_) kill(-g, SIGTERM);
    }

private:
    void send_pgid(const char* type, pid_t pgid) {
        Poco::JSON::Object m;
        m.set("t", type);
        m.set("id", id_);
        m.set("pgid", int(pgid));
        out_.write(m);
    }

    FrameWriter& out_;
    plugins::ExecutorClient& client_;
    int64_t id_;
    int64_t deadline_;
    std::string job_;
    std::atomic<bool> cancelled_{false};
    std::mutex mutex_;
    std::condition_variable credit_;
    size_t in_flight_ = 0;  // event bytes sent, not yet credited
    bool closed_ = false;
    std::set<pid_t> groups_;
};

void HostServer::serve() {
    FrameReader reader(fd_);
    int64_t id = 0;
    std::string text;
    while (reader.next(id, text)) {
        auto message = parse_frame(text);
        if (!message) {
            refuse(id, "not a JSON object in valid UTF-8 within " + std::to_string(kMaxFrame) + " bytes");
            continue;
        }
        try {
            handle(message, id);
        } catch (const std::exception& e) {  // a field of a type nothing expects
            refuse(id, e.what());
        }
    }
    // exed is gone or stopping: the runs still going are cancelled.
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    for (auto& [id, hooks] : runs_) {
        hooks->close();
        hooks->cancel();
    }
}

void HostServer::handle(const Poco::JSON::Object::Ptr& message, int64_t id) {
    std::string type = text_of(*message, "t");
    if (type == "cancel") {
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto it = runs_.find(id); it != runs_.end()) it->second->cancel();
    } else if (type == "credit") {
        int64_t bytes = integer_of(*message, "bytes", 0);
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto it = runs_.find(id); it != runs_.end()) it->second->credit(size_t(std::max<int64_t>(bytes, 0)));
    } else if (type == "prepare" || type == "run" || type == "health") {
        pool_.post([this, message, type, id] { call(*message, type, id); });
    } else {
        logger().warning("plugin host: unknown message '" + type.substr(0, 64) + "' ignored");
    }
}

void HostServer::refuse(int64_t id, const std::string& why) {
    logger().warning(fmt::format("plugin host: unreadable frame for call {} ({}); only that call fails", id, why));
    if (id == 0) return;  // no call to answer
    {
        // A run in flight: the frame was its cancel or credit. Cancelled,
        // it ends and answers as a cancelled run does; never two answers.
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto it = runs_.find(id); it != runs_.end()) {
            it->second->cancel();
            return;
        }
    }
    Poco::JSON::Object answer;
    answer.set("t", "result");
    answer.set("id", id);
    answer.set("status", int(EXED_ERR));
    answer.set("error", "the plugin host could not read the call: " + why);
    out_.write(answer);
}

Poco::JSON::Object HostServer::answer_of(const Poco::JSON::Object& message, const std::string& type, int64_t id,
                                         std::vector<std::string>& strings) {
    if (type == "prepare") return prepared_message(client_.prepare(prepare_request_of(message)), strings);
    if (type == "health") return result_message(client_.health());
    auto hooks = std::make_shared<RemoteHooks>(out_, client_, id, integer_of(message, "deadline", 0),
                                               text_of(message, "job"));
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_) hooks->close();  // exed went away before the run began
        runs_[id] = hooks;
    }
    struct Forget {  // the run leaves runs_ however it ends
        HostServer& self;
        int64_t id;
        ~Forget() {
            std::lock_guard<std::mutex> lock(self.mutex_);
            self.runs_.erase(id);
        }
    } forget{*this, id};
    return result_message(client_.run({text_of(message, "kind"), text_of(message, "type")},
                                      text_of(message, "op"), text_of(message, "doc"), *hooks));
}

void HostServer::call(const Poco::JSON::Object& message, const std::string& type, int64_t id) {
    CallScope scope(id);  // a crash on this thread names this call
    Poco::JSON::Object answer;
    std::vector<std::string> strings;
    try {
        answer = answer_of(message, type, id, strings);
    } catch (const std::exception& e) {  // on a pool thread: an escape would end the process
        strings.clear();
        answer = result_message({EXED_ERR, "", std::string("the plugin host failed the call: ") + e.what()});
    }
    answer.set("id", id);
    if (out_.write(answer, strings) == Sent::too_large) {
        Poco::JSON::Object refused = result_message(
            {EXED_ERR, "", "the answer is larger than the plugin host's frame limit of " +
                               std::to_string(kMaxFrame) + " bytes"});
        refused.set("id", id);
        out_.write(refused);
    }
}

}  // namespace exed::pluginhost
