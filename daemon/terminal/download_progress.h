// How `imgsearchd model pull` shows a download (indexer/weights reports it,
// this draws it): a bar redrawn in place on a terminal (bytes, total, rate,
// time left), or plain lines (one every 10 %) otherwise, with the download's
// log lines in both.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "daemon/terminal/progress_line.h"
#include "indexer/weights/model_download.h"

namespace imgsearchd {

class TerminalDownloadProgress : public DownloadProgress {
 public:
  enum class Style {
    automatic,  // a bar when `stream` is a terminal, else lines
    bar,        // a bar redrawn in place
    lines,      // one line every 10 %
    none,       // nothing at all, not even log lines
  };
  // `label` starts each progress line (the file's name).
  TerminalDownloadProgress(Style style, std::FILE* stream, std::string label);

  void log(const std::string& line) override;
  void transfer_started(uint64_t already_have) override;
  void transferred(uint64_t done, uint64_t total) override;
  void transfer_ended() override;

 private:
  using Clock = std::chrono::steady_clock;
  double rate(uint64_t done, Clock::time_point now) const;  // bytes per second this transfer
  void draw_bar(uint64_t done, uint64_t total, double rate);

  Style style_;
  std::FILE* stream_;
  ProgressLine line_;
  std::string label_;
  Clock::time_point started_;
  Clock::time_point last_drawn_;
  uint64_t start_bytes_ = 0;  // bytes on disk when the transfer started (not counted in the rate)
  uint64_t last_done_ = 0;
  uint64_t last_total_ = 0;
  uint64_t drawn_done_ = 0;  // bar style: the byte count on screen
  int next_tenth_ = 1;       // lines style: the next 10 % step to report
};

}  // namespace imgsearchd
