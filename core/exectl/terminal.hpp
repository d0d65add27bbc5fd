// How exectl writes to its stdout: a terminal gets colour (unless NO_COLOR)
// and a live progress line; a pipe or --json gets JSON/NDJSON only.
#pragma once

#include <Poco/Dynamic/Var.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace exectl {

struct Term {
    bool human = false;   // stdout is a terminal and --json was not given
    bool colour = false;  // human, and NO_COLOR is unset or empty
    static Term detect(bool json_flag);
    // `text` wrapped in an SGR colour when colour is on ("32" green, ...).
    std::string paint(const std::string& sgr, const std::string& text) const;
};

// A per-host result's verdict: "ok", "changed", "skipped", "failed", "unreachable".
std::string verdict(const Poco::Dynamic::Var& result);
bool verdict_failed(const std::string& v);

// The live view of a followed job on a terminal: a progress line (hosts
// done/failed/total, elapsed) kept above the per-host output printed below
// it, redrawn as hosts finish and once a second by a ticker thread.
class ProgressView {
public:
    ProgressView(const Term& term, std::string jid);
    ~ProgressView();
    void set_targets(const std::set<std::string>& hosts);
    // A "host" event's data: {host: result} or {host: {"name": task, ...}}.
    void host_event(const Poco::Dynamic::Var& data);
    // The end: stops the ticker, draws the last progress and a summary line.
    void finish(const std::string& status, const std::string& error);

private:
    std::string progress_text();
    void redraw();                         // with mutex_ held
    void print_below(const std::string& text);  // with mutex_ held
    void tick();

    const Term& term_;
    std::string jid_;
    std::chrono::steady_clock::time_point started_;
    std::set<std::string> targets_;
    std::map<std::string, std::string> done_;  // host -> verdict
    int rows_below_ = 0;  // terminal rows printed since the progress line
    int rows_ = 24, cols_ = 80;
    bool stopped_ = false;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread ticker_;
};

}  // namespace exectl
