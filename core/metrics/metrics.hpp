// In-process Prometheus metrics of exed: counters and histograms kept in
// memory and bumped by one-line hooks (HTTP server, runner), rendered in the
// text exposition format by GET /metrics. Nothing here touches Redis, so a
// scrape costs no scan.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace exed::metrics {

// A histogram of seconds with fixed buckets (cumulative when rendered).
struct Histogram {
    std::vector<double> bounds;
    std::vector<unsigned long> counts;  // per bucket, non-cumulative; last = +Inf
    double sum = 0;
    unsigned long count = 0;
    explicit Histogram(std::vector<double> b = {}) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
    void observe(double v);
};

using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry {
public:
    // Hooks.
    void http_request(const std::string& route, int code, double seconds);
    void job_started();
    void job_ended(const std::string& op, const std::string& status);  // every job end this process saw
    void op_finished(const std::string& op, const std::string& executor, double seconds);

    // The families above in the text format (HELP, TYPE, samples).
    std::string render() const;

    // Families whose owner computes them at scrape time (the Shovey face's
    // node counts, the executor's agents): each returns whole families in
    // the text format and must be cheap (no scan, no call per node). One
    // that throws is left out of that scrape. Returns an id for remove.
    using Collector = std::function<std::string()>;
    int add_collector(Collector collector);
    void remove_collector(int id);
    std::string collect() const;

private:
    mutable std::mutex mutex_;
    std::map<Labels, unsigned long> http_requests_;  // route, code
    std::map<std::string, Histogram> http_duration_;  // by route
    std::map<Labels, unsigned long> jobs_;           // op, status
    std::map<Labels, Histogram> op_duration_;        // op, executor
    long running_ = 0;

    mutable std::mutex collectors_mutex_;  // not mutex_: a collector may take its time
    std::map<int, Collector> collectors_;
    int next_collector_ = 1;
};

// The process's registry (hooks from anywhere reach the same one).
Registry& global();

// Writes one sample line: name{k="v",...} value (label values escaped).
std::string sample(const std::string& name, const Labels& labels, const std::string& value);
std::string family(const std::string& name, const std::string& type, const std::string& help);
std::string number(double v);

}  // namespace exed::metrics
