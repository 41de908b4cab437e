// Internal to the live indexer: one watcher per root (inotify or polling,
// as configured or chosen), feeding settled, coalesced changes and rescan
// requests to the LiveIndexer.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "indexer/live/live_indexer.h"

namespace imgsearchd::live {

class LiveWatchers {
 public:
  LiveWatchers(LiveIndexer& sink, const LiveOptions& options);
  ~LiveWatchers();

  // Watches exactly these roots from now on (starts new ones, stops others).
  void set_roots(const LiveOptions& options);
  std::vector<LiveRootStatus> status() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgsearchd::live
