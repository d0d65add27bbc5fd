// The messages between exed and its plugin host, as frames (frame.hpp).
// Every message has "t" (its type); calls and what belongs to them carry
// "id", chosen by exed and unique among its calls in flight.
//
//   exed -> host   prepare {id, kind, type, op, patterns, args}
//                  run     {id, kind, type, op, doc, deadline, job}
//                  health  {id}
//                  cancel  {id}            (the job of run `id` was cancelled)
//                  credit  {id, bytes}     (run `id`'s events of that size are handled)
//   host -> exed   hello   {pid, plugins, refusals}   (once, when loaded)
//                  emit    {id, e}         (an event of run `id`)
//                  track / untrack {id, pgid}
//                  result  {id, status, error, ...}   (the call's end)
//
// A prepare's result sends its document, hosts and unmatched patterns as
// the frame's raw strings (frame.hpp), in that order; "hosts" and
// "unmatched" in the JSON are their counts.
//
// Back-pressure: a run may have at most kEmitWindow bytes of events that
// exed has not yet handled (written to Redis); past that the plugin's emit
// waits for credit. So a plugin that emits faster than the job stores its
// events slows down instead of piling them up in exed's memory, and no
// other call waits for it (in-process, emit blocks on the Redis write).
//
// A run's releaser reaches the executor inside the host (run_executor):
// both plugins live there, so nothing of it crosses the socket.
#pragma once

#include "plugins/executor_client.hpp"
#include "plugins/registry.hpp"

#include <Poco/JSON/Object.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace exed::pluginhost {

constexpr size_t kEmitWindow = 1 << 20;      // bytes of events in flight per run
constexpr size_t kCreditEvery = kEmitWindow / 4;

// What the host loaded, as its hello said.
struct Listing {
    std::vector<plugins::PluginInfo> plugins;
    std::vector<plugins::Refusal> refusals;
    std::map<std::pair<std::string, std::string>, std::set<std::string>> ops;  // (kind, type) -> ops
};

Poco::JSON::Object hello_message(const plugins::Registry& registry);
Listing listing_of(const Poco::JSON::Object& hello);

Poco::JSON::Object prepare_message(const plugins::PrepareRequest& request);
plugins::PrepareRequest prepare_request_of(const Poco::JSON::Object& message);

Poco::JSON::Object prepared_message(const plugins::Prepared& prepared, std::vector<std::string>& strings);
plugins::Prepared prepared_of(const Poco::JSON::Object& message, std::vector<std::string> strings);

Poco::JSON::Object result_message(const plugins::OpResult& result);
plugins::OpResult result_of(const Poco::JSON::Object& message);

// Fields of a message, never throwing: a field of the wrong type reads as
// absent (a message is the peer's word, and one odd field must not end a
// thread that serves every call). Strings and arrays of strings: empty
// when absent; non-strings in an array are left out.
std::string text_of(const Poco::JSON::Object& message, const std::string& key);
std::vector<std::string> texts_of(const Poco::JSON::Object& message, const std::string& key);
// An integer field; `fallback` when absent, not an integer, or past int64.
int64_t integer_of(const Poco::JSON::Object& message, const std::string& key, int64_t fallback);

}  // namespace exed::pluginhost
