// The one terminal progress line of the command line: a line redrawn in place
// (\r, then the text, then "clear to the end of the line"), with log lines
// printed above it so they never break it. Both `index` and `model pull`
// draw theirs through this.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace imgsearchd {

class ProgressLine {
 public:
  explicit ProgressLine(std::FILE* stream) : stream_(stream) {}

  // Replaces the line on screen with `text`.
  void draw(const std::string& text);
  // Prints `text` (which ends with its own newline, or gets one) above the
  // line, then draws the line again below it.
  void print(const std::string& text);
  // Ends the line (a newline) if one is on screen; the next draw starts a new one.
  void end();

  bool open() const { return open_; }

 private:
  std::mutex mutex_;
  std::FILE* stream_;
  std::string text_;
  bool open_ = false;  // a line is on screen without its newline
};

// "[#####.....]": `fraction` (0 to 1) of `width` cells filled.
std::string progress_bar(double fraction, int width);

// "1:02:03", "4:05", "12 s" for a known number of seconds; "?" otherwise.
std::string format_duration(double seconds);

}  // namespace imgsearchd
