#include "daemon/service/systemd_notify.h"

#ifdef IMGSEARCHD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <algorithm>

namespace imgsearchd {
namespace {

// A status is one line: a newline would start another assignment.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

void send(const std::string& message) {
#ifdef IMGSEARCHD_HAVE_SYSTEMD
  sd_notify(0, message.c_str());
#else
  (void)message;
#endif
}

}  // namespace

bool systemd_notify_supported() {
#ifdef IMGSEARCHD_HAVE_SYSTEMD
  return true;
#else
  return false;
#endif
}

void notify_ready(const std::string& status) { send("READY=1\nSTATUS=" + one_line(status)); }
void notify_status(const std::string& status) { send("STATUS=" + one_line(status)); }
void notify_reloading() { send("RELOADING=1"); }
void notify_stopping(const std::string& status) { send("STOPPING=1\nSTATUS=" + one_line(status)); }

}  // namespace imgsearchd
