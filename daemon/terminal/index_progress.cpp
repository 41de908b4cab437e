#include "daemon/terminal/index_progress.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <vector>

namespace imgsearchd {

namespace {

class BarAwareSink : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit BarAwareSink(std::shared_ptr<ProgressLine> line) : line_(std::move(line)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    line_->print(fmt::to_string(formatted));
  }
  void flush_() override {}

 private:
  std::shared_ptr<ProgressLine> line_;
};

// The sinks the default logger had before the bar took over.
std::vector<spdlog::sink_ptr>& saved_sinks() {
  static std::vector<spdlog::sink_ptr> sinks;
  return sinks;
}

const char* phase_name(IndexingProgress::Phase phase) {
  switch (phase) {
    case IndexingProgress::Phase::scanning: return "scanning";
    case IndexingProgress::Phase::indexing: return "indexing";
    case IndexingProgress::Phase::removing: return "removing";
    case IndexingProgress::Phase::finished: return "finished";
  }
  return "";
}

}  // namespace

IndexProgressDisplay::IndexProgressDisplay(bool terminal) : terminal_(terminal) {
  if (!terminal_) return;
  line_ = std::make_shared<ProgressLine>(stderr);
  auto logger = spdlog::default_logger();
  saved_sinks() = logger->sinks();
  auto sink = std::make_shared<BarAwareSink>(line_);
  sink->set_pattern("[%H:%M:%S] [%l] %v%n");  // the default pattern, without colours
  logger->sinks() = {sink};
}

IndexProgressDisplay::~IndexProgressDisplay() {
  if (!terminal_) return;
  line_->end();
  spdlog::default_logger()->sinks() = saved_sinks();
}

void IndexProgressDisplay::update(const IndexingProgress& progress) {
  using Phase = IndexingProgress::Phase;
  if (progress.phase != Phase::scanning && indexing_started_ < 0) indexing_started_ = progress.seconds;
  const double indexing_seconds = indexing_started_ < 0 ? 0 : progress.seconds - indexing_started_;
  const double rate = indexing_seconds > 0 ? static_cast<double>(progress.done) / indexing_seconds : 0;

  const Clock::time_point now = Clock::now();
  const auto interval = terminal_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  const bool last = progress.phase == Phase::finished;
  if (!last && last_shown_ != Clock::time_point{} && now - last_shown_ < interval) return;
  last_shown_ = now;

  if (terminal_) {
    line_->draw(describe(progress, rate));
  } else if (!last && (progress.phase == IndexingProgress::Phase::scanning || progress.total > 0)) {
    spdlog::info("{}", describe(progress, rate));
  }
}

std::string IndexProgressDisplay::describe(const IndexingProgress& progress, double rate) const {
  char text[256];
  if (progress.phase == IndexingProgress::Phase::scanning) {
    std::snprintf(text, sizeof text, "scanning: %llu files found, %llu to index",
                  static_cast<unsigned long long>(progress.counts.scanned),
                  static_cast<unsigned long long>(progress.counts.scanned - progress.counts.unchanged));
    return text;
  }
  const double fraction = progress.total ? static_cast<double>(progress.done) / static_cast<double>(progress.total) : 1;
  const double left = rate > 0 ? static_cast<double>(progress.total - progress.done) / rate : -1;
  std::string bar;
  if (terminal_) {
    bar = progress_bar(fraction, 28) + " ";
  }
  std::snprintf(text, sizeof text, "%s%s %llu/%llu (%.0f%%), %.1f files/s, %s left; %llu embedded, %llu failed",
                bar.c_str(), phase_name(progress.phase), static_cast<unsigned long long>(progress.done),
                static_cast<unsigned long long>(progress.total), fraction * 100, rate,
                left < 0 ? "?" : format_duration(left).c_str(),
                static_cast<unsigned long long>(progress.counts.embedded),
                static_cast<unsigned long long>(progress.counts.failed));
  return text;
}

}  // namespace imgsearchd
