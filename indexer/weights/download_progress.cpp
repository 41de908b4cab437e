// No library fits a one-line terminal progress bar without pulling in a
// terminal UI toolkit, so this small one is written here.
#include "indexer/weights/download_progress.h"

#include <cinttypes>
#include <utility>

namespace imgsearchd {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBarWidth = 30;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 99 * 3600) return "--:--";
  auto total = static_cast<uint64_t>(seconds + 0.5);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, total / 3600, total / 60 % 60,
                  total % 60);
  } else {
    std::snprintf(text, sizeof text, "%" PRIu64 ":%02" PRIu64, total / 60, total % 60);
  }
  return text;
}

}  // namespace

std::string format_bytes(uint64_t bytes) {
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
  char text[32];
  if (bytes < 1024) {
    std::snprintf(text, sizeof text, "%" PRIu64 " B", bytes);
    return text;
  }
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

DownloadProgress::DownloadProgress(ProgressStyle style, std::FILE* stream, std::string label)
    : style_(stream ? style : ProgressStyle::none), stream_(stream), label_(std::move(label)) {}

void DownloadProgress::log(const std::string& message) {
  if (style_ == ProgressStyle::none) return;
  end_bar_line();
  std::fprintf(stream_, "%s\n", message.c_str());
  std::fflush(stream_);
}

void DownloadProgress::start(uint64_t already_have) {
  started_ = Clock::now();
  last_drawn_ = Clock::time_point{};
  start_bytes_ = already_have;
  last_done_ = already_have;
  last_total_ = 0;
  drawn_done_ = UINT64_MAX;
  next_tenth_ = 1;
}

void DownloadProgress::update(uint64_t done, uint64_t total) {
  if (style_ == ProgressStyle::none) return;
  last_done_ = done;
  last_total_ = total;
  const Clock::time_point now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  const double rate = elapsed > 0 && done > start_bytes_ ? (done - start_bytes_) / elapsed : 0;

  if (style_ == ProgressStyle::bar) {
    // Redraw at most ten times a second, but always show the last byte (once).
    const bool last_byte = total > 0 && done == total && drawn_done_ != done;
    if (now - last_drawn_ < kRedrawInterval && !last_byte) return;
    last_drawn_ = now;
    draw_bar(done, total, rate);
    return;
  }

  // Lines: one per 10 % step reached.
  if (total == 0) return;
  const int tenth = static_cast<int>(done * 10 / total);
  if (tenth < next_tenth_) return;
  next_tenth_ = tenth + 1;
  const double eta = rate > 0 ? (total - done) / rate : -1;
  std::fprintf(stream_, "%s: %d%% (%s of %s, %s/s, ETA %s)\n", label_.c_str(), tenth * 10, format_bytes(done).c_str(),
               format_bytes(total).c_str(), format_bytes(static_cast<uint64_t>(rate)).c_str(),
               format_duration(eta).c_str());
  std::fflush(stream_);
}

void DownloadProgress::finish() {
  if (style_ == ProgressStyle::bar && bar_open_ && drawn_done_ != last_done_) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    const double rate = elapsed > 0 && last_done_ > start_bytes_ ? (last_done_ - start_bytes_) / elapsed : 0;
    draw_bar(last_done_, last_total_, rate);
  }
  end_bar_line();
}

void DownloadProgress::draw_bar(uint64_t done, uint64_t total, double rate) {
  std::string bar;
  std::string percent = "  ?%";
  std::string eta = "--:--";
  if (total > 0) {
    const int filled = static_cast<int>(done * kBarWidth / total);
    bar = std::string(filled, '#') + std::string(kBarWidth - filled, '-');
    char text[8];
    std::snprintf(text, sizeof text, "%3d%%", static_cast<int>(done * 100 / total));
    percent = text;
    if (rate > 0) eta = format_duration((total - done) / rate);
  } else {
    bar = std::string(kBarWidth, '?');
  }
  const std::string total_text = total > 0 ? format_bytes(total) : "?";
  // \r returns to the line start; the trailing \033[K clears what a longer earlier draw left.
  std::fprintf(stream_, "\r%s [%s] %s  %s / %s  %s/s  ETA %s\033[K", label_.c_str(), bar.c_str(), percent.c_str(),
               format_bytes(done).c_str(), total_text.c_str(), format_bytes(static_cast<uint64_t>(rate)).c_str(),
               eta.c_str());
  std::fflush(stream_);
  bar_open_ = true;
  drawn_done_ = done;
}

void DownloadProgress::end_bar_line() {
  if (!bar_open_) return;
  std::fputc('\n', stream_);
  std::fflush(stream_);
  bar_open_ = false;
}

}  // namespace imgsearchd
