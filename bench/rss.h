// Resident memory of this process, read from Linux's /proc, for the
// benchmarks that report memory per indexed image.
#pragma once

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// The resident set now, in MB (/proc/self/statm: cheaper to read than status).
inline double resident_mb() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int read = std::fscanf(statm, "%lu %lu", &size, &resident);
  std::fclose(statm);
  if (read != 2) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// Anonymous resident memory (heap, mapped blocks, thread stacks), in MB:
// what is left of the RSS when the code and files mapped are taken out.
inline double anonymous_mb() {
  std::ifstream rollup("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(rollup, line)) {
    if (line.rfind("Anonymous:", 0) == 0) return std::stod(line.substr(10)) / 1024.0;
  }
  return 0;
}

// Glibc's malloc totals over every arena, and the resident set, now.
struct MallocTotals {
  double rss_mb = 0;
  double anonymous_mb = 0;     // resident, not code or files
  double arenas_mb = 0;        // what the arenas took from the system (resident or not)
  double heap_in_use_mb = 0;   // malloc'd from the arenas and not freed
  double heap_free_mb = 0;     // free inside the arenas (resident or not)
  double mmapped_mb = 0;       // large blocks malloc mapped on their own, in use
};

inline MallocTotals malloc_totals() {
  const struct mallinfo2 info = mallinfo2();
  constexpr double kMb = 1024.0 * 1024.0;
  return MallocTotals{resident_mb(),
                      anonymous_mb(),
                      static_cast<double>(info.arena) / kMb,
                      static_cast<double>(info.uordblks) / kMb,
                      static_cast<double>(info.fordblks) / kMb,
                      static_cast<double>(info.hblkhd) / kMb};
}

inline void print_malloc_totals(const char* when, const MallocTotals& t) {
  std::fprintf(stderr,
               "memory %s: RSS %.0f MB (anonymous %.0f); malloc: arenas %.0f MB (%.0f in use, %.0f free), "
               "%.0f MB mapped on its own in use; anonymous not in use by malloc %.0f MB\n",
               when, t.rss_mb, t.anonymous_mb, t.arenas_mb, t.heap_in_use_mb, t.heap_free_mb, t.mmapped_mb,
               t.anonymous_mb - t.heap_in_use_mb - t.mmapped_mb);
}

// Where the peak of a stretch of work came from: a thread samples the
// resident set every `every` and, at each new maximum (by 1 MB or more),
// takes glibc's malloc totals (every arena) and the anonymous resident set.
// Memory in use is what the work really held; anonymous memory beyond what
// malloc has in use is mostly free memory the arenas keep resident (plus
// thread stacks), which a trim or fewer arenas would give back. With a trace
// file, every sample is written to it as "seconds rss_mb".
class PeakSampler {
 public:
  struct Sample {
    double seconds = 0;
    MallocTotals totals;
  };

  explicit PeakSampler(std::chrono::milliseconds every, const std::string& trace_file = {})
      : every_(every), start_(std::chrono::steady_clock::now()) {
    if (!trace_file.empty()) trace_ = std::fopen(trace_file.c_str(), "w");
    thread_ = std::thread([this] { run(); });
  }
  PeakSampler(const PeakSampler&) = delete;
  PeakSampler& operator=(const PeakSampler&) = delete;
  ~PeakSampler() {
    stop_ = true;
    thread_.join();
    if (trace_ != nullptr) std::fclose(trace_);
  }

  Sample peak() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
  }

 private:
  void run() {
    while (!stop_) {
      const double rss = resident_mb();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      if (trace_ != nullptr) std::fprintf(trace_, "%.3f %.1f\n", seconds, rss);
      bool new_peak = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        new_peak = rss > peak_.totals.rss_mb + 1.0;
      }
      if (new_peak) {
        Sample sample{seconds, malloc_totals()};
        sample.totals.rss_mb = std::max(sample.totals.rss_mb, rss);
        std::lock_guard<std::mutex> lock(mutex_);
        peak_ = sample;
      }
      std::this_thread::sleep_for(every_);
    }
  }

  const std::chrono::milliseconds every_;
  const std::chrono::steady_clock::time_point start_;
  std::FILE* trace_ = nullptr;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  Sample peak_;
  std::thread thread_;
};

}  // namespace imgsearchd::bench
