// The polling watcher: walks its trees every `poll_interval` with lstat and
// compares each candidate's stat signature (device, inode, size, mtime) with
// the walk before. New and changed files are reported as changing (the queue
// settles them), vanished files as removed. The first walk of a tree is the
// baseline and reports nothing (the daemon's start-up reconcile covers what
// was there before).
//
// A tree is a whole root (a root of kind poll) or a folder below a root that
// inotify could not watch (InotifyWatcher adds those). A root that is missing
// is offline and looked for at each walk; when it is back it is reported as
// a root to rescan. A folder tree that disappears is dropped (its files are
// reported removed, unless its root went too: then it is offline; its
// parent's watcher reported the folder).
//
// Thread-safety: see watcher.h; add_tree() and states() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "indexer/watch/watcher.h"

namespace imgsearchd {

class PollingWatcher : public Watcher {
 public:
  // Polls every root of `options.roots` whole (their kind is not looked at).
  PollingWatcher(WatcherOptions options, ChangeQueue& queue);
  ~PollingWatcher() override;

  void start() override;
  void stop() override;
  std::vector<RootWatchState> states() const override;

  // Polls `folder` (at or below `root.path`) from now on, with `root`'s
  // rules. Its first walk, done before this returns, is the baseline. A
  // folder polled already is left as it is.
  void add_tree(const WatchRoot& root, const std::string& folder);
  // Trees below (or at) `root` being polled.
  size_t trees_below(const std::string& root) const;
  // Every tree polled: its root's path and its folder (the root's path for
  // a whole root), in the order they were added.
  struct PolledTree {
    std::string root;
    std::string folder;
  };
  std::vector<PolledTree> trees() const;
  // Stops polling the tree of `folder` (after any walk in progress).
  void remove_tree(const std::string& folder);
  // Walks every tree once now, reporting differences (tests call this
  // instead of waiting for the interval).
  void poll_now();

 private:
  struct Tree;
  void run();
  void walk(Tree& tree, bool report);

  WatcherOptions options_;
  ChangeQueue& queue_;
  mutable std::mutex mutex_;  // guards trees_ and stopping_
  std::condition_variable wake_;
  std::vector<std::unique_ptr<Tree>> trees_;
  bool stopping_ = false;
  bool started_ = false;
  std::mutex walk_mutex_;  // one walk at a time (the thread or poll_now)
  std::thread thread_;
};

}  // namespace imgsearchd
