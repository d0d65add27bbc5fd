#include "app/logging.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/FileChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>

namespace exed::app {

namespace {

Poco::AutoPtr<Poco::Channel> channel_for(const std::string& path, const std::string& pattern) {
    Poco::AutoPtr<Poco::Channel> sink;
    if (path.empty() || path == "-") {
        sink = new Poco::ConsoleChannel;
    } else {
        auto* f = new Poco::FileChannel(path);
        f->setProperty("rotation", "100 M");
        f->setProperty("archive", "timestamp");
        f->setProperty("purgeCount", "10");
        sink = f;
    }
    Poco::AutoPtr<Poco::PatternFormatter> fmt(new Poco::PatternFormatter(pattern));
    fmt->setProperty("times", "local");
    return new Poco::FormattingChannel(fmt, sink);
}

int level_of(const std::string& name) {
    if (name == "debug") return Poco::Message::PRIO_DEBUG;
    if (name == "info" || name == "information") return Poco::Message::PRIO_INFORMATION;
    if (name == "warning") return Poco::Message::PRIO_WARNING;
    if (name == "error") return Poco::Message::PRIO_ERROR;
    return Poco::Message::PRIO_CRITICAL;
}

}  // namespace

void setup_logging(const Settings& s, const std::string& prefix) {
    auto errors = channel_for(s.error_log, "%Y-%m-%d %H:%M:%S.%i [%p] " + prefix + "%s: %t");
    // setChannel("") reaches only loggers that exist: make the root one
    // (Poco's Application made it already in exed, not in the plugin host).
    Poco::Logger::root();
    Poco::Logger::setChannel("", errors);
    Poco::Logger::setLevel("", level_of(s.log_level));
    // The access log is its own file with just the request lines.
    auto access = channel_for(s.access_log, "%t");
    // On the logger itself: the static setChannel(name) only reaches loggers
    // that already exist, so "exed.access" (made at the first request) used
    // to inherit the error log's channel and access_log was ignored.
    Poco::Logger& log = Poco::Logger::get("exed.access");
    log.setChannel(access);
    log.setLevel(Poco::Message::PRIO_INFORMATION);
}

}  // namespace exed::app
