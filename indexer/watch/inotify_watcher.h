// The inotify watcher: one inotify instance for all its roots, one watch per
// folder a scan would enter, one thread reading events. See watcher.h for
// what is noticed; here is how events map onto the ChangeQueue:
//
//   file IN_CREATE, IN_MODIFY, IN_ATTRIB       -> file_changing (settles)
//   file IN_OPEN / IN_CLOSE_NOWRITE            -> file_opened / file_closed_unwritten
//   file IN_CLOSE_WRITE, IN_MOVED_TO           -> file_complete
//   file IN_DELETE, IN_MOVED_FROM              -> file_removed
//   folder IN_CREATE, IN_MOVED_TO              -> watch its subtree, folder_changed
//   folder IN_DELETE, IN_MOVED_FROM            -> unwatch its subtree, folder_changed
//   root IN_DELETE_SELF, IN_MOVE_SELF, IN_UNMOUNT -> offline (a root to rescan when back)
//   sub-folder IN_UNMOUNT                      -> watch the folder shown again, folder_changed
//   IN_Q_OVERFLOW                              -> root_lost_events for every root
//
// A rename within the roots is a removal of the old path and a completion of
// the new one (a folder: both folders to reconcile); the pipeline re-attaches
// content by hash, so nothing is read twice. A case-only rename is the same.
//
// Folders inotify cannot watch (the watch limit) are polled by a
// PollingWatcher it owns.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "indexer/watch/polling_watcher.h"
#include "indexer/watch/watcher.h"

namespace imgsearchd {

class InotifyWatcher : public Watcher {
 public:
  // Watches every root of `options.roots` with inotify (their kind is not
  // looked at). Throws ScanError for unusable rules.
  InotifyWatcher(WatcherOptions options, ChangeQueue& queue);
  ~InotifyWatcher() override;

  // Throws Unavailable when no inotify instance can be had (EMFILE:
  // fs.inotify.max_user_instances; ENOSYS), naming the limit and its value.
  void start() override;
  void stop() override;
  std::vector<RootWatchState> states() const override;

  // The fallback poller (tests call poll_now() on it).
  PollingWatcher& fallback_poller();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace imgsearchd
