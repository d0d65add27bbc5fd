#include "metrics/metrics.hpp"

#include <fmt/format.h>

#include <cmath>

namespace exed::metrics {

namespace {

// Request latency: 1 ms .. 60 s (follow streams land in +Inf).
const std::vector<double> kHttpBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,      2.5,   5,    10,    30,   60};
// An operation on hosts: 10 ms .. 1 h.
const std::vector<double> kOpBuckets = {0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600};

std::string escape(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

void render_histogram(std::string& out, const std::string& name, const Labels& labels, const Histogram& h) {
    unsigned long cumulative = 0;
    for (size_t i = 0; i <= h.bounds.size(); ++i) {
        cumulative += h.counts[i];
        Labels l = labels;
        l.emplace_back("le", i < h.bounds.size() ? number(h.bounds[i]) : "+Inf");
        out += sample(name + "_bucket", l, std::to_string(cumulative));
    }
    out += sample(name + "_sum", labels, number(h.sum));
    out += sample(name + "_count", labels, std::to_string(h.count));
}

}  // namespace

void Histogram::observe(double v) {
    size_t i = 0;
    while (i < bounds.size() && v > bounds[i]) ++i;
    ++counts[i];
    sum += v;
    ++count;
}

std::string number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", v);
}

std::string sample(const std::string& name, const Labels& labels, const std::string& value) {
    std::string out = name;
    if (!labels.empty()) {
        out += '{';
        for (size_t i = 0; i < labels.size(); ++i)
            out += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape(labels[i].second));
        out += '}';
    }
    return out + " " + value + "\n";
}

std::string family(const std::string& name, const std::string& type, const std::string& help) {
    return fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

Registry& global() {
    static Registry r;
    return r;
}

void Registry::http_request(const std::string& route, int code, double seconds) {
    std::lock_guard<std::mutex> l(mutex_);
    ++http_requests_[{{"route", route}, {"code", std::to_string(code)}}];
    auto it = http_duration_.try_emplace(route, kHttpBuckets).first;
    it->second.observe(seconds);
}

void Registry::job_started() {
    std::lock_guard<std::mutex> l(mutex_);
    ++running_;
}

void Registry::job_ended(const std::string& op, const std::string& status) {
    std::lock_guard<std::mutex> l(mutex_);
    ++jobs_[{{"op", op}, {"status", status}}];
}

void Registry::op_finished(const std::string& op, const std::string& executor, double seconds) {
    std::lock_guard<std::mutex> l(mutex_);
    --running_;
    op_duration_.try_emplace({{"op", op}, {"executor", executor}}, kOpBuckets).first->second.observe(seconds);
}

std::string Registry::render() const {
    std::lock_guard<std::mutex> l(mutex_);
    std::string out;
    out += family("exed_jobs_total", "counter", "Jobs that ended in this process, by operation and final status.");
    for (const auto& [labels, n] : jobs_) out += sample("exed_jobs_total", labels, std::to_string(n));
    out += family("exed_jobs_running", "gauge", "Jobs running in this process's workers.");
    out += sample("exed_jobs_running", {}, std::to_string(running_));
    out += family("exed_http_requests_total", "counter", "HTTP requests by route template and status code.");
    for (const auto& [labels, n] : http_requests_) out += sample("exed_http_requests_total", labels, std::to_string(n));
    out += family("exed_http_request_duration_seconds", "histogram", "HTTP request duration by route template.");
    for (const auto& [route, h] : http_duration_)
        render_histogram(out, "exed_http_request_duration_seconds", {{"route", route}}, h);
    out += family("exed_op_duration_seconds", "histogram", "Duration of an operation run by a plugin.");
    for (const auto& [labels, h] : op_duration_) render_histogram(out, "exed_op_duration_seconds", labels, h);
    return out;
}

}  // namespace exed::metrics

namespace exed::metrics {

int Registry::add_collector(Collector collector) {
    std::lock_guard<std::mutex> l(collectors_mutex_);
    collectors_[next_collector_] = std::move(collector);
    return next_collector_++;
}

void Registry::remove_collector(int id) {
    std::lock_guard<std::mutex> l(collectors_mutex_);
    collectors_.erase(id);
}

std::string Registry::collect() const {
    std::lock_guard<std::mutex> l(collectors_mutex_);
    std::string out;
    for (const auto& [id, collector] : collectors_) {
        try {
            out += collector();
        } catch (const std::exception&) {
            // Its source (Redis, the executor) is away: no sample this time.
        }
    }
    return out;
}

}  // namespace exed::metrics
