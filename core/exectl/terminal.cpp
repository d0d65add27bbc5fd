#include "exectl/terminal.hpp"

#include <Poco/Environment.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/UTF8String.h>

#include <fmt/format.h>

#include <iostream>
#include <sstream>

#include <sys/ioctl.h>
#include <unistd.h>

namespace exectl {

namespace {

int status_code(const Poco::JSON::Object::Ptr& o) {
    // Operations answer "status"; facter answers "state" (EXEd's shapes).
    for (const char* k : {"status", "state"}) {
        if (o->has(k)) {
            try {
                return o->getValue<int>(k);
            } catch (const Poco::Exception&) {
            }
        }
    }
    return -1;
}

std::string colour_of(const std::string& v) {
    if (v == "ok") return "32";
    if (v == "changed") return "33";
    if (v == "skipped") return "36";
    return "31";
}

std::string compact(const Poco::Dynamic::Var& v, int indent = 0) {
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(v, out, unsigned(indent));
    return out.str();
}

// Display width of a UTF-8 line, counting code points (close enough for
// counting wrapped rows).
int width_of(const std::string& line) {
    int n = 0;
    for (unsigned char c : line) n += (c & 0xC0) != 0x80;
    return n;
}

}  // namespace

Term Term::detect(bool json_flag) {
    Term t;
    t.human = !json_flag && isatty(STDOUT_FILENO) == 1;
    t.colour = t.human && Poco::Environment::get("NO_COLOR", "").empty();
    return t;
}

std::string Term::paint(const std::string& sgr, const std::string& text) const {
    return colour ? "\033[" + sgr + "m" + text + "\033[0m" : text;
}

std::string verdict(const Poco::Dynamic::Var& result) {
    if (result.type() != typeid(Poco::JSON::Object::Ptr)) return "failed";
    switch (status_code(result.extract<Poco::JSON::Object::Ptr>())) {
        case 0: return "ok";
        case 1: return "skipped";
        case 3: return "unreachable";
        case 4: return "changed";
        default: return "failed";
    }
}

bool verdict_failed(const std::string& v) { return v == "failed" || v == "unreachable"; }

ProgressView::ProgressView(const Term& term, std::string jid)
    : term_(term), jid_(std::move(jid)), started_(std::chrono::steady_clock::now()) {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 1 && ws.ws_col > 10) {
        rows_ = ws.ws_row;
        cols_ = ws.ws_col;
    }
    std::lock_guard<std::mutex> l(mutex_);
    std::cout << progress_text() << "\n" << std::flush;
    ticker_ = std::thread([this] { tick(); });
}

ProgressView::~ProgressView() {
    {
        std::lock_guard<std::mutex> l(mutex_);
        stopped_ = true;
    }
    wake_.notify_all();
    if (ticker_.joinable()) ticker_.join();
}

void ProgressView::tick() {
    std::unique_lock<std::mutex> l(mutex_);
    while (!stopped_) {
        wake_.wait_for(l, std::chrono::seconds(1));
        if (!stopped_) redraw();
    }
}

std::string ProgressView::progress_text() {
    int failed = 0;
    for (auto& [h, v] : done_) failed += verdict_failed(v);
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
    std::string counts = fmt::format("{}/{} hosts done", done_.size(), targets_.size());
    std::string fails = fmt::format("{} failed", failed);
    return fmt::format("{}, {}, {:02}:{:02} elapsed  (job {})", term_.paint("1", counts),
                       failed ? term_.paint("31", fails) : fails, secs / 60, secs % 60, jid_);
}

void ProgressView::redraw() {
    if (rows_below_ + 1 >= rows_) {
        // The old line scrolled away: start a new one here.
        std::cout << "\r\033[K" << progress_text() << "\n" << std::flush;
        rows_below_ = 0;
        return;
    }
    int up = rows_below_ + 1;
    std::cout << "\033[" << up << "A\r\033[K" << progress_text() << "\033[" << up << "B\r" << std::flush;
}

void ProgressView::print_below(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::cout << line << "\n";
        int w = width_of(line);
        rows_below_ += w == 0 ? 1 : (w + cols_ - 1) / cols_;
    }
    redraw();
}

void ProgressView::set_targets(const std::set<std::string>& hosts) {
    std::lock_guard<std::mutex> l(mutex_);
    targets_ = hosts;
    redraw();
}

void ProgressView::host_event(const Poco::Dynamic::Var& data) {
    if (data.type() != typeid(Poco::JSON::Object::Ptr)) return;
    std::lock_guard<std::mutex> l(mutex_);
    for (const auto& [host, body] : *data.extract<Poco::JSON::Object::Ptr>()) {
        std::string v = verdict(body);
        std::string label = term_.paint(colour_of(v), v);
        if (body.type() != typeid(Poco::JSON::Object::Ptr)) {
            print_below(fmt::format("{}  {}  {}", host, label, body.toString()));
            continue;
        }
        auto o = body.extract<Poco::JSON::Object::Ptr>();
        if (o->has("name")) {  // one task of a deploy/release: progress, not the end
            print_below(fmt::format("{}  {}  {}", term_.paint("1", host), label, o->optValue<std::string>("name", "")));
            continue;
        }
        done_[host] = v;
        targets_.insert(host);
        std::string out = fmt::format("{}  {}", term_.paint("1", host), label);
        if (o->has("rtc")) out += fmt::format("  rtc={}", o->get("rtc").toString());
        if (o->has("error")) out += "  " + o->get("error").toString();
        for (const char* stream : {"stdout", "stderr"}) {
            if (!o->has(stream) || o->get(stream).toString().empty()) continue;
            std::string text = o->get(stream).toString();
            if (text.back() == '\n') text.pop_back();
            out += "\n" + text;
        }
        if (!o->has("rtc")) {
            // Other results (facter, deploy stats): the JSON minus what the label said.
            Poco::JSON::Object rest;
            for (const auto& [k, val] : *o)
                if (k != "status" && k != "state" && k != "error") rest.set(k, val);
            if (rest.size()) {
                std::string j = compact(rest);
                out += "\n" + (width_of(j) <= cols_ ? j : compact(rest, 2));
            }
        }
        print_below(out);
    }
}

void ProgressView::finish(const std::string& status, const std::string& error) {
    {
        std::lock_guard<std::mutex> l(mutex_);
        stopped_ = true;
        redraw();
        std::string word = term_.paint(status == "done" ? "32" : "31", status);
        std::cout << "job " << jid_ << " " << word << (error.empty() ? "" : ": " + error) << "\n"
                  << std::flush;
    }
    wake_.notify_all();
    if (ticker_.joinable()) ticker_.join();
}

}  // namespace exectl
