// Readiness and status for the service manager (systemd Type=notify), sent
// with sd_notify when imgsearchd was built with libsystemd and runs under a
// manager that set $NOTIFY_SOCKET. Everywhere else these do nothing.
#pragma once

#include <string>

namespace imgsearchd {

// True when built with libsystemd (whether or not a manager listens).
bool systemd_notify_supported();

// READY=1 with a STATUS= line.
void notify_ready(const std::string& status);
// STATUS=...: one line of progress that `systemctl status` shows.
void notify_status(const std::string& status);
// RELOADING=1 before a configuration reload, READY=1 after it.
void notify_reloading();
// STOPPING=1 once a stop has begun.
void notify_stopping(const std::string& status);

}  // namespace imgsearchd
