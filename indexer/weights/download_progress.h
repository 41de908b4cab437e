// Internal to imgsearchd_download: shows how a download is going, as a bar
// redrawn in place on a terminal or as plain log lines otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace imgsearchd {

enum class ProgressStyle { bar, lines, none };

class DownloadProgress {
 public:
  DownloadProgress(ProgressStyle style, std::FILE* stream, std::string label);

  // A log line (shown in every style but none); ends any bar line first.
  void log(const std::string& message);

  // A transfer starts; `already_have` bytes of the file are on disk.
  void start(uint64_t already_have);

  // `done` and `total` count the whole file (total 0 = not known yet).
  void update(uint64_t done, uint64_t total);

  // The transfer ended (successfully or not): ends the bar line.
  void finish();

 private:
  void draw_bar(uint64_t done, uint64_t total, double rate);
  void end_bar_line();

  ProgressStyle style_;
  std::FILE* stream_;
  std::string label_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_drawn_;
  uint64_t start_bytes_ = 0;  // bytes on disk when the transfer started (not counted in the rate)
  uint64_t last_done_ = 0;
  uint64_t last_total_ = 0;
  uint64_t drawn_done_ = 0;  // bar style: the byte count on screen
  int next_tenth_ = 1;      // lines style: the next 10 % step to report
  bool bar_open_ = false;  // a bar is on screen without its newline
};

// "337.6 MiB", "12 B"
std::string format_bytes(uint64_t bytes);

}  // namespace imgsearchd
