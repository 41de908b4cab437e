// No library fits a one-line terminal progress bar without pulling in a
// terminal UI toolkit, so this small one is written here.
#include "daemon/terminal/progress_line.h"

#include <algorithm>
#include <cmath>

namespace imgsearchd {

void ProgressLine::draw(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  text_ = text;
  // The trailing \033[K clears what a longer earlier draw left.
  std::fprintf(stream_, "\r%s\033[K", text_.c_str());
  std::fflush(stream_);
  open_ = true;
}

void ProgressLine::print(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_) std::fprintf(stream_, "\r\033[K");
  std::fputs(text.c_str(), stream_);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stream_);
  if (open_) std::fprintf(stream_, "%s", text_.c_str());
  std::fflush(stream_);
}

void ProgressLine::end() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_) std::fputc('\n', stream_);
  open_ = false;
  text_.clear();
  std::fflush(stream_);
}

std::string progress_bar(double fraction, int width) {
  const int filled = std::clamp(static_cast<int>(fraction * width), 0, width);
  return "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.') +
         "]";
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "?";
  const long total = std::lround(seconds);
  if (total < 60) return std::to_string(total) + " s";
  char text[32];
  if (total < 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, (total / 60) % 60, total % 60);
  }
  return text;
}

}  // namespace imgsearchd
