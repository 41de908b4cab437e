// How `imgsearchd index` shows its progress on stderr: on a terminal, one
// line redrawn in place (a bar, the count, the rate and the time left), with
// log lines printed above it; otherwise a plain log line every few seconds.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "daemon/terminal/progress_line.h"
#include "indexer/pipeline/indexing_pipeline.h"

namespace imgsearchd {

class IndexProgressDisplay {
 public:
  // terminal: draw the bar (stderr is a TTY). While a bar is shown, spdlog's
  // default logger writes through it so log lines do not break the bar.
  explicit IndexProgressDisplay(bool terminal);
  ~IndexProgressDisplay();  // ends the bar's line, restores the logger

  IndexProgressDisplay(const IndexProgressDisplay&) = delete;
  IndexProgressDisplay& operator=(const IndexProgressDisplay&) = delete;

  void update(const IndexingProgress& progress);

 private:
  using Clock = std::chrono::steady_clock;
  std::string describe(const IndexingProgress& progress, double rate) const;

  const bool terminal_;
  std::shared_ptr<ProgressLine> line_;  // shared with the log sink
  Clock::time_point last_shown_{};
  double indexing_started_ = -1;  // seconds into the run when phase 2 began
};

}  // namespace imgsearchd
