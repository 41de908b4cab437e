// The folder watcher: notices changes below the roots and feeds them to a
// ChangeQueue (change_queue.h), which settles and batches them for the
// indexing pipeline.
//
// Two kinds, chosen per root:
//  - inotify (inotify_watcher.h): one watch per folder, recursive. New
//    folders are watched at once and reported as folders to reconcile (which
//    finds files written before the watch existed); moved-out and deleted
//    folders are reported and unwatched; a root that disappears (deleted,
//    moved, unmounted) is offline and is looked for every
//    `offline_check_interval`: when it is back it is watched again and
//    reported as a root to rescan. IN_Q_OVERFLOW reports every inotify root
//    to rescan.
//  - poll (polling_watcher.h): a stat walk every `poll_interval`, comparing
//    each candidate's (device, inode, size, mtime) with the walk before. For
//    file systems whose changes inotify does not see (NFS, SMB/CIFS, 9p).
// `automatic` takes poll for those file systems and inotify elsewhere, and
// poll where inotify cannot be had at all (EMFILE on inotify_init: the
// fs.inotify.max_user_instances limit).
//
// When the watch limit runs out (ENOSPC from inotify_add_watch, i.e.
// fs.inotify.max_user_watches), one warning names the sysctl, its value and
// about how many watches the roots need; the folders that could not be
// watched are polled instead (and so are folders made later that cannot be
// watched). The root's state says so. Watching them is tried again after
// `watch_retry_delay`, then at doubling intervals up to
// `watch_retry_max_delay`: a folder tree that can be watched whole again
// leaves the poller and is reported as a folder to reconcile (covering what
// changed between its last poll and its watch); once every folder is
// watched, a later exhaustion warns again.
//
// Only candidates (PathFilter, the scanner's rules) are reported, and only
// folders a scan would enter are watched. Symbolic links are not followed:
// a link made or changed in a watched folder is reported by its own path
// (the pipeline follows it); changes behind a link to a folder are left to
// the periodic reconcile scan.
//
// Changing the roots (SIGHUP): stop the old watcher, make and start a new
// one, then reconcile every root (a stat-only scan) to cover the moment
// between them. (Starting the new one before stopping the old would need
// every watch twice, which fails near the watch limit.)
//
// Thread-safety: start() and stop() from one thread (the owner's); states()
// from any thread. Each watcher runs one thread of its own between start()
// and stop(); stop() joins it and closes every file descriptor; the
// destructor stops.
//
// Proposed configuration keys (the serve helper adds them to daemon/config/;
// defaults are those of ChangeQueueOptions and WatcherOptions):
//   indexer.watch.settle_delay_ms: 300     ChangeQueueOptions::settle_delay
//   indexer.watch.poll_interval_s: 10      WatcherOptions::poll_interval
//   indexer.watch.kind: auto               auto | inotify | poll, for every root
//   indexer.roots: [ "/a", { path: "/b", watch: poll } ]   per-root kind
//   (the reconcile interval, 1 hour, belongs to the daemon, not here)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "indexer/scan/path_filter.h"
#include "indexer/watch/change_queue.h"

namespace imgsearchd {

enum class WatcherKind { automatic, inotify, poll };

// "auto", "inotify", "poll"; parse returns false for anything else.
const char* watcher_kind_name(WatcherKind kind);
bool parse_watcher_kind(const std::string& text, WatcherKind& kind);

struct WatchRoot {
  std::string path;  // absolute; need not exist yet (then it is offline)
  WatcherKind kind = WatcherKind::automatic;
  CandidateRules rules;  // what is a candidate below this root
};

enum class WatchLogLevel { info, warning };

struct WatcherOptions {
  std::vector<WatchRoot> roots;
  // How often poll roots, and folders inotify could not watch, are walked.
  std::chrono::milliseconds poll_interval{10'000};
  // How often an offline root is looked for.
  std::chrono::milliseconds offline_check_interval{5'000};
  // After the watch limit ran out, how soon inotify watches are tried again
  // for the polled folders (other programs may have freed watches, or the
  // limit been raised): this delay, doubled after each try that still hits
  // the limit, up to the maximum.
  std::chrono::milliseconds watch_retry_delay{60'000};
  std::chrono::milliseconds watch_retry_max_delay{3'600'000};
  // Where warnings (the watch limit) and notes (a root offline, back) go,
  // from the watcher's thread. Default: spdlog.
  std::function<void(WatchLogLevel, const std::string&)> log;
  // Counters for the service's metrics, from the watcher's thread; optional.
  // `on_events`: file system events received (inotify events read; changes
  // a poll walk found). `on_overflow`: once per IN_Q_OVERFLOW (events lost,
  // every root rescanned). They must return quickly and take no lock the
  // watcher's owner holds while it stops or starts a watcher.
  std::function<void(uint64_t events)> on_events;
  std::function<void()> on_overflow;

  // For tests only.
  struct Testing {
    // Pretend the kernel's watch limit is this many watches (ENOSPC after
    // them); 0 = no pretence.
    size_t max_watches = 0;
    // The same, asked at each inotify_add_watch (a test raises it while the
    // watcher runs); overrides max_watches when set.
    std::function<size_t()> watch_limit;
    // Pretend inotify_init fails with EMFILE.
    bool no_inotify_instance = false;
    // Called by the inotify thread before each read of events (lets a test
    // hold reading back until the kernel queue overflows).
    std::function<void()> before_read;
  } testing;
};

enum class RootWatchMode {
  inotify,           // every folder watched
  inotify_and_poll,  // some folders polled: the watch limit ran out
  poll,              // polled as a whole
  offline,           // missing, not a folder or unreadable: looked for again later
};
const char* root_watch_mode_name(RootWatchMode mode);  // "inotify", "inotify+poll", "poll", "offline"

struct RootWatchState {
  std::string root;
  RootWatchMode mode = RootWatchMode::offline;
  size_t watches = 0;         // inotify watches held for this root
  size_t polled_folders = 0;  // folders (trees) polled for this root
  std::string problem;        // why offline or partly polled; empty otherwise
};

class Watcher {
 public:
  virtual ~Watcher() = default;
  // Sets up every watch (or the first poll walk) for the roots present, then
  // returns: a change made after start() returns is noticed. Throws ScanError
  // for unusable rules (an empty pattern). Called once.
  virtual void start() = 0;
  // Idempotent. Joins the thread, closes descriptors. Feeds nothing after.
  virtual void stop() = 0;
  virtual std::vector<RootWatchState> states() const = 0;
};

// The watcher for `options`: inotify or poll per root as `kind` says (see
// above). `queue` must outlive it.
std::unique_ptr<Watcher> make_watcher(WatcherOptions options, ChangeQueue& queue);

// How many folders below `root` a scan with `rules` would enter (the root
// included): the inotify watches it needs.
size_t count_watchable_folders(const std::string& root, const PathFilter& filter);

}  // namespace imgsearchd
