// Error log and access log channels from [log].
#pragma once

#include "config.hpp"

namespace exed::app {

// Error log: every logger, at log_level, to error_log (or stdout).
// Access log: logger "exed.access", to access_log (or stdout).
// `prefix` starts every error log line after the level (the plugin host's).
void setup_logging(const Settings& s, const std::string& prefix = "");

}  // namespace exed::app
