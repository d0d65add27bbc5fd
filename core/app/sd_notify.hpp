// systemd's readiness protocol without libsystemd (Type=notify): one
// datagram of "KEY=value" lines to the unix socket named by $NOTIFY_SOCKET.
// exed sends READY=1 once its plugins are loaded (GET /health "ready"),
// STOPPING=1 when it begins to stop. Without $NOTIFY_SOCKET nothing is sent.
#pragma once

#include <string>

namespace exed::app {

// Sends `state` (e.g. "READY=1\nSTATUS=serving"); true when it was sent.
// Only a socket path is supported ("@abstract" names are logged and skipped:
// systemd itself uses /run/systemd/notify).
bool sd_notify(const std::string& state);

}  // namespace exed::app
