// The change queue: what the watchers noticed, settled and coalesced into
// batches for the indexing pipeline.
//
// A watcher feeds it raw observations (the methods under "from watchers");
// the consumer pops ChangeBatch values. The rules:
//  - A file is reported once it is complete: at once (after `batch_delay`)
//    on close-after-write or when moved in; after `settle_delay` of quiet for
//    a writer that never closes (create, modify, attribute change with no
//    close). A file someone still holds open after writing waits for its
//    close, or for `open_settle_delay` of quiet.
//  - Each path is reported once per batch however many events it had; a
//    file that is written again before its report restarts its settling.
//  - Removed files are reported like changed ones: the consumer finds them
//    gone. Whether a path names a file that exists is the consumer's to
//    check: every path is "may have been created, modified or deleted".
//  - Bursts collapse: past `max_files_per_folder` ready files in one folder,
//    or `max_files` in all, the files become their parent folders. A folder
//    (created, moved in, moved out, deleted) is a folder to reconcile, whole
//    subtree; files and folders below a folder or root in the same batch are
//    dropped as covered.
//  - Lost events (inotify's IN_Q_OVERFLOW, a root that came back) become
//    roots to rescan; pending entries below such a root are dropped as
//    covered.
//  - Bounded: past `max_pending` pending paths, the pending files collapse
//    into their folders (memory stays proportional to folders, not files).
//
// Time comes from `now`, injectable: tests drive the settle logic with a
// manual clock and take_ready(), never with sleeps.
//
// Thread-safety: every method may be called from any thread; watchers call
// the feeding methods from their own threads while one consumer pops.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace imgsearchd {

using WatchClock = std::chrono::steady_clock;

// For the pipeline's changed-path entry point: `files` are files to check
// (stat, then hash if their signature changed, or drop if gone); `folders`
// and `roots` are subtrees to reconcile against the catalogue (a root:
// the whole root, as the start-up reconcile does).
struct ChangeBatch {
  std::vector<std::string> files;    // absolute, sorted, unique: may be new, modified or gone
  std::vector<std::string> folders;  // absolute, sorted: reconcile the whole subtree
  std::vector<std::string> roots;    // absolute, sorted: events were lost, rescan the root
  bool empty() const { return files.empty() && folders.empty() && roots.empty(); }
};

struct ChangeQueueOptions {
  // Quiet period for a file written without a close (default well under a second).
  std::chrono::milliseconds settle_delay{300};
  // Quiet period for a file written and still held open by someone.
  std::chrono::milliseconds open_settle_delay{10'000};
  // How long a complete change waits for others to join its batch.
  std::chrono::milliseconds batch_delay{50};
  size_t max_files_per_folder = 128;  // Syncthing's figures
  size_t max_files = 512;
  size_t max_pending = 100'000;
  std::function<WatchClock::time_point()> now = [] { return WatchClock::now(); };
};

class ChangeQueue {
 public:
  explicit ChangeQueue(ChangeQueueOptions options = {});
  ChangeQueue(const ChangeQueue&) = delete;
  ChangeQueue& operator=(const ChangeQueue&) = delete;

  // --- From watchers. Paths are absolute.
  void file_changing(const std::string& path);  // created, modified, attributes: settle first
  void file_opened(const std::string& path);    // someone opened it (read or write)
  void file_closed_unwritten(const std::string& path);  // a reader closed it
  void file_complete(const std::string& path);  // closed after writing, moved in, seen by a poll
  void file_removed(const std::string& path);   // deleted or moved out
  void folder_changed(const std::string& path);  // reconcile its subtree
  void root_lost_events(const std::string& root);  // rescan the root
  // Forget open counts (after lost events they cannot be trusted).
  void forget_open_files();

  // --- For the consumer.
  // Waits until a batch is ready, `deadline` passes or close() is called.
  // Returns an empty batch on a deadline or after close().
  ChangeBatch pop(WatchClock::time_point deadline);
  // What is ready now (by `now`), without waiting; may be empty.
  ChangeBatch take_ready();
  // When the next pending entry becomes ready; time_point::max() when none.
  WatchClock::time_point next_ready_time() const;
  size_t pending() const;  // paths waiting (settling or ready)
  // Wakes pop() for good: every later pop() returns at once.
  void close();
  bool closed() const;

 private:
  struct PendingFile {
    WatchClock::time_point ready_at;
    WatchClock::time_point last_change;
    bool written = false;  // modified and not closed since: settles by quiet period
  };

  WatchClock::duration quiet_period_locked(const std::string& path) const;
  void after_add_locked();
  void settle_now_locked(const std::string& path);
  void note_ready_locked(WatchClock::time_point ready_at);
  void collapse_pending_locked();
  ChangeBatch take_ready_locked(WatchClock::time_point now);
  WatchClock::time_point next_ready_locked() const;

  const ChangeQueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, PendingFile> files_;
  std::map<std::string, int> open_counts_;  // opens not yet matched by a close
  std::map<std::string, WatchClock::time_point> folders_;
  std::map<std::string, WatchClock::time_point> roots_;
  WatchClock::time_point earliest_ready_ = WatchClock::time_point::max();  // a lower bound
  bool closed_ = false;
};

}  // namespace imgsearchd
