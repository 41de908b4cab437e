#include "daemon/terminal/download_progress.h"

#include <unistd.h>

#include <utility>

namespace imgsearchd {

namespace {

constexpr int kBarWidth = 30;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

TerminalDownloadProgress::Style chosen_style(TerminalDownloadProgress::Style style, std::FILE* stream) {
  using Style = TerminalDownloadProgress::Style;
  if (!stream) return Style::none;
  if (style != Style::automatic) return style;
  return ::isatty(::fileno(stream)) ? Style::bar : Style::lines;
}

}  // namespace

TerminalDownloadProgress::TerminalDownloadProgress(Style style, std::FILE* stream, std::string label)
    : style_(chosen_style(style, stream)), stream_(stream), line_(stream), label_(std::move(label)) {}

void TerminalDownloadProgress::log(const std::string& line) {
  if (style_ == Style::none) return;
  // A log line ends the bar's line; the next draw starts a new one below it.
  line_.end();
  std::fprintf(stream_, "%s\n", line.c_str());
  std::fflush(stream_);
}

void TerminalDownloadProgress::transfer_started(uint64_t already_have) {
  started_ = Clock::now();
  last_drawn_ = Clock::time_point{};
  start_bytes_ = already_have;
  last_done_ = already_have;
  last_total_ = 0;
  drawn_done_ = UINT64_MAX;
  next_tenth_ = 1;
}

double TerminalDownloadProgress::rate(uint64_t done, Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  return elapsed > 0 && done > start_bytes_ ? (done - start_bytes_) / elapsed : 0;
}

void TerminalDownloadProgress::transferred(uint64_t done, uint64_t total) {
  if (style_ == Style::none) return;
  last_done_ = done;
  last_total_ = total;
  const Clock::time_point now = Clock::now();

  if (style_ == Style::bar) {
    // Redraw at most ten times a second, but always show the last byte (once).
    const bool last_byte = total > 0 && done == total && drawn_done_ != done;
    if (now - last_drawn_ < kRedrawInterval && !last_byte) return;
    last_drawn_ = now;
    draw_bar(done, total, rate(done, now));
    return;
  }

  // Lines: one per 10 % step reached.
  if (total == 0) return;
  const int tenth = static_cast<int>(done * 10 / total);
  if (tenth < next_tenth_) return;
  next_tenth_ = tenth + 1;
  const double bytes_per_second = rate(done, now);
  const double left = bytes_per_second > 0 ? (total - done) / bytes_per_second : -1;
  std::fprintf(stream_, "%s: %d%% (%s of %s, %s/s, ETA %s)\n", label_.c_str(), tenth * 10, format_bytes(done).c_str(),
               format_bytes(total).c_str(), format_bytes(static_cast<uint64_t>(bytes_per_second)).c_str(),
               format_duration(left).c_str());
  std::fflush(stream_);
}

void TerminalDownloadProgress::transfer_ended() {
  if (style_ == Style::bar && line_.open() && drawn_done_ != last_done_) {
    draw_bar(last_done_, last_total_, rate(last_done_, Clock::now()));
  }
  line_.end();
}

void TerminalDownloadProgress::draw_bar(uint64_t done, uint64_t total, double bytes_per_second) {
  std::string bar = "[" + std::string(kBarWidth, '?') + "]";
  std::string percent = "  ?%";
  std::string left = "?";
  if (total > 0) {
    bar = progress_bar(static_cast<double>(done) / static_cast<double>(total), kBarWidth);
    char text[8];
    std::snprintf(text, sizeof text, "%3d%%", static_cast<int>(done * 100 / total));
    percent = text;
    if (bytes_per_second > 0) left = format_duration((total - done) / bytes_per_second);
  }
  const std::string total_text = total > 0 ? format_bytes(total) : "?";
  line_.draw(label_ + " " + bar + " " + percent + "  " + format_bytes(done) + " / " + total_text + "  " +
             format_bytes(static_cast<uint64_t>(bytes_per_second)) + "/s  ETA " + left);
  drawn_done_ = done;
}

}  // namespace imgsearchd
