// Placeholder until indexer/watch/ lands: no watcher runs, so changes are
// found by the start-up and periodic reconciles only.
#include "indexer/live/live_watchers.h"

namespace imgsearchd::live {

struct LiveWatchers::Impl {
  std::vector<LiveRootStatus> roots;
};

LiveWatchers::LiveWatchers(LiveIndexer&, const LiveOptions& options) : impl_(std::make_unique<Impl>()) {
  set_roots(options);
}

LiveWatchers::~LiveWatchers() { stop(); }

void LiveWatchers::set_roots(const LiveOptions& options) {
  impl_->roots.clear();
  for (const LiveRoot& root : options.roots) impl_->roots.push_back(LiveRootStatus{root.path.string(), "none", 0, 0, ""});
}

std::vector<LiveRootStatus> LiveWatchers::status() const { return impl_->roots; }

void LiveWatchers::stop() {}

}  // namespace imgsearchd::live
