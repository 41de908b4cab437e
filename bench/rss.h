// Resident memory of this process, read from Linux's /proc, for the
// benchmarks that report memory per indexed image.
#pragma once

#include <fstream>
#include <string>

namespace imgsearchd::bench {

// A field of /proc/self/status (VmRSS, VmHWM), in MB.
inline double status_mb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::string(field).size() + 1)) / 1024.0;
  }
  return 0;
}

// Resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
inline void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace imgsearchd::bench
