// The watchers of the live indexer: one Watcher (indexer/watch/) for all the
// roots, one ChangeQueue it feeds, and one thread handing the queue's
// settled batches to the LiveIndexer.
#include "indexer/live/live_watchers.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "indexer/scan/scanner.h"
#include "indexer/watch/change_queue.h"

namespace imgsearchd::live {

namespace {

WatcherOptions watcher_options(LiveIndexer& sink, const LiveOptions& options) {
  WatcherOptions watch;
  for (const LiveRoot& root : options.roots) {
    WatchRoot entry;
    entry.path = normalized_root(root.path);
    entry.kind = root.watcher;
    entry.rules.extensions = options.indexing.scan.extensions;
    entry.rules.include = root.include;
    entry.rules.exclude = root.exclude;
    entry.rules.skip_hidden = options.indexing.scan.skip_hidden;
    entry.rules.skip_clutter = options.indexing.scan.skip_clutter;
    watch.roots.push_back(std::move(entry));
  }
  watch.poll_interval = options.poll_interval;
  watch.log = [&sink](WatchLogLevel level, const std::string& message) {
    if (level == WatchLogLevel::warning) {
      spdlog::warn("{}", message);
      sink.on_watch_warning(message);
    } else {
      spdlog::info("{}", message);
    }
  };
  watch.on_events = [&sink](uint64_t events) { sink.on_watcher_events(events); };
  watch.on_overflow = [&sink] { sink.on_watcher_overflow(); };
  watch.testing.max_watches = options.max_watches;
  return watch;
}

ChangeQueueOptions queue_options(const LiveOptions& options) {
  ChangeQueueOptions queue;
  queue.settle_delay = options.settle;
  queue.max_pending = options.max_pending;
  return queue;
}

}  // namespace

struct LiveWatchers::Impl {
  LiveIndexer& sink;
  ChangeQueue queue;
  mutable std::mutex mutex;  // guards watcher
  std::unique_ptr<Watcher> watcher;
  std::thread consumer;

  Impl(LiveIndexer& s, const LiveOptions& options) : sink(s), queue(queue_options(options)) {}

  void consume() {
    while (!queue.closed()) {
      const ChangeBatch batch = queue.pop(WatchClock::now() + std::chrono::seconds(1));
      if (batch.empty()) continue;
      if (!batch.files.empty() || !batch.folders.empty()) sink.on_changes(ChangedPaths{batch.files, batch.folders});
      for (const std::string& root : batch.roots) {
        spdlog::info("events were lost under {}: rescanning it", root);
        sink.on_root_rescan(root);
      }
    }
  }
};

LiveWatchers::LiveWatchers(LiveIndexer& sink, const LiveOptions& options)
    : impl_(std::make_unique<Impl>(sink, options)) {
  set_roots(options);
  impl_->consumer = std::thread([this] { impl_->consume(); });
}

LiveWatchers::~LiveWatchers() { stop(); }

// Stop the old watcher first, then start the new one (both at once would need
// every watch twice, which fails near the watch limit); the caller
// reconciles every root to cover the moment between them.
void LiveWatchers::set_roots(const LiveOptions& options) {
  std::unique_ptr<Watcher> old;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    old = std::move(impl_->watcher);
  }
  if (old) old->stop();
  old.reset();
  std::unique_ptr<Watcher> watcher = make_watcher(watcher_options(impl_->sink, options), impl_->queue);
  watcher->start();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->watcher = std::move(watcher);
}

std::vector<LiveRootStatus> LiveWatchers::status() const {
  std::vector<RootWatchState> states;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->watcher) states = impl_->watcher->states();
  }
  std::vector<LiveRootStatus> roots;
  for (const RootWatchState& state : states) {
    roots.push_back(LiveRootStatus{state.root, root_watch_mode_name(state.mode), state.watches, state.polled_folders,
                                   state.problem});
  }
  return roots;
}

void LiveWatchers::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->watcher) impl_->watcher->stop();
  }
  impl_->queue.close();
  if (impl_->consumer.joinable()) impl_->consumer.join();
}

}  // namespace imgsearchd::live
