// The live indexer: what keeps the index true while `imgsearchd serve` runs.
// It owns the writer catalogue, the model (when its file is there) and the
// model's vector index, which queries share, and does all writing on one
// thread of its own:
//
//   start-up    a full reconcile of every root (what changed while the
//               service was down), queued at once: start() returns before it
//               is done, so a large first index never delays readiness;
//   watching    batches of changed paths from the watchers (settled,
//               coalesced) are reconciled one by one; a watcher that lost
//               events asks for a rescan of its root;
//   periodic    a full reconcile every `reconcile_interval` catches anything
//               the watchers missed (a cheap stat walk: unchanged files are
//               not read);
//   no model    without the model file every file is still catalogued and
//               hashed; the file is looked for every `model_check`, and once
//               it is there (and has stopped changing) it is loaded and a
//               reconcile embeds what was waiting, without a restart.
//
// Stopping (request_stop) finishes the batch in flight, commits it, saves the
// vector index and ends the thread; what was not reached is found by the
// next start's reconcile.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "indexer/pipeline/indexing_pipeline.h"
#include "indexer/session/model_session.h"
#include "indexer/watch/watcher.h"
#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {

class QueryEngine;
class VectorIndex;

namespace live {
class CountingModel;
class LiveWatchers;
}  // namespace live

struct LiveRoot {
  std::filesystem::path path;
  std::vector<std::string> include;  // glob patterns (see indexer/scan/scanner.h)
  std::vector<std::string> exclude;
  WatcherKind watcher = WatcherKind::automatic;
};

struct LiveOptions {
  std::filesystem::path data_dir;
  std::vector<LiveRoot> roots;
  // Threads, batch and queue sizes, and the candidate rules (extensions,
  // hidden, clutter, symlinks); scan.roots, include and exclude come from
  // `roots`.
  IndexingOptions indexing;
  ModelSessionOptions model;
  IndexOptions index;  // the vector index's kind (flat, ivf) and parameters; read when the model loads
  std::chrono::milliseconds settle{300};            // quiet time for files written without a close
  std::chrono::milliseconds poll_interval{10'000};  // polled roots and folders past the watch limit
  std::chrono::seconds reconcile_interval{3600};  // 0 = only at start-up
  std::chrono::seconds model_check{5};            // while the model is missing
  // A catalogue shared with other services (PostgreSQL): how often the
  // index looks for their commits when none was announced (LISTEN/NOTIFY
  // wakes it at once; this is the fallback for a missed announcement).
  std::chrono::milliseconds follow_interval{2000};
  size_t max_pending = 100'000;                   // changed paths held before a root rescan instead
  size_t max_watches = 0;                         // inotify watches at most; 0 = the kernel's limit
};

// Totals since the service started.
struct LiveCounters {
  uint64_t hashed = 0;          // files read and hashed
  uint64_t attached = 0;        // paths attached to content already embedded (no model time)
  uint64_t reattached = 0;      // renamed or moved files that took their content without a read
  uint64_t catalogued = 0;      // no model yet: recorded with their content, not embedded
  uint64_t embedded = 0;        // images run through the model
  uint64_t model_calls = 0;     // batches run through the model
  uint64_t failed = 0;          // files recorded as failed
  uint64_t removed = 0;         // paths deleted from the catalogue
  uint64_t deferred = 0;        // changed while being read: redone later
  uint64_t change_batches = 0;  // batches of watched changes reconciled
  uint64_t changed_paths = 0;   // paths in those batches
  uint64_t reconciles = 0;      // full reconciles of the roots, finished
  uint64_t root_rescans = 0;    // rescans of one root (lost events, a root back, POST /api/rescan), finished
  uint64_t watcher_events = 0;     // file system events the watchers received
  uint64_t watcher_overflows = 0;  // inotify queue overflows (each rescans the roots)
};

// Model time per batch of images, as a histogram: counts[i] batches took at
// most bounds()[i] seconds (and more than the bound before); the last count
// is for the batches that took longer than every bound.
struct ModelBatchTimes {
  static const std::vector<double>& bounds();
  std::vector<uint64_t> counts = std::vector<uint64_t>(bounds().size() + 1, 0);
  uint64_t batches = 0;
  double seconds = 0;  // all batches together

  void add(double batch_seconds);
};

// The indexing run in flight: a reconcile, or a batch of watched changes.
struct LiveRunProgress {
  bool active = false;
  uint64_t done = 0;   // files of the run finished (committed)
  uint64_t total = 0;  // files the run found to work on (known once its scan is over)
  double seconds = 0;  // since the run started
};

struct LiveRootStatus {
  std::string path;
  std::string watcher;         // "inotify", "poll", "inotify+poll" (watch limit), "offline"
  uint64_t watches = 0;        // inotify watches held
  uint64_t polled_folders = 0;
  std::string problem;         // why it is offline or polled, if it is
};

struct LiveStatus {
  // "starting", "reconciling", "indexing", "watching", "stopping", "stopped", "failed"
  std::string state;
  bool startup_reconcile_done = false;
  std::string model;          // the configured model setting
  bool model_loaded = false;
  std::string model_problem;  // what is missing and how to get it, when not loaded
  uint64_t pending_paths = 0;  // changed paths waiting
  uint64_t generation = 0;     // the catalogue's, after the last commit
  uint64_t files_ok = 0, files_failed = 0, searchable = 0;
  uint64_t vectors = 0;        // what the model's vector index holds
  LiveRunProgress run;
  LiveCounters counters;
  ModelBatchTimes model_batches;
  std::vector<LiveRootStatus> roots;
  std::vector<std::string> warnings;  // lasting conditions (watch limit, ...)
  std::string error;                  // set when state is "failed"
  // Set while a shared PostgreSQL catalogue cannot be reached (state
  // "waiting for the catalogue"): what the last attempt said.
  std::string catalogue_problem;
};

class LiveIndexer {
 public:
  // Takes the writer catalogue of options.data_dir (the caller holds the
  // data folder's writer lock). Loads nothing yet.
  LiveIndexer(LiveOptions options, Catalog catalog);
  ~LiveIndexer();  // stops and joins
  LiveIndexer(const LiveIndexer&) = delete;
  LiveIndexer& operator=(const LiveIndexer&) = delete;

  // Starts the indexing thread and the watchers, with the start-up reconcile
  // queued. Returns at once.
  void start();
  // New options (a reloaded configuration): added roots are scanned and
  // watched, removed roots are unwatched and their files leave the results;
  // a changed model setting takes effect at the next restart. Throws
  // ScanError, changing nothing, for an unusable pattern.
  void reconfigure(LiveOptions options);
  // A full reconcile of every root, as soon as the current work is done.
  void request_reconcile();
  // Ends the thread after the batch in flight (committed, index saved).
  void request_stop();
  // Waits until the thread has ended, at most `timeout`; true if it has.
  bool wait_stopped(std::chrono::milliseconds timeout);
  // The thread's error, if it ended with one (a catalogue that cannot be
  // written, ...).
  std::exception_ptr error() const;

  LiveStatus status() const;
  // A query engine over the live vector index, or null while the model is
  // not loaded. Shared: it stays valid as long as a caller holds it.
  std::shared_ptr<QueryEngine> query_engine() const;

  // Called by the watchers (from their threads).
  void on_changes(const ChangedPaths& changes);
  void on_root_rescan(const std::string& root);
  void on_watch_warning(const std::string& warning);
  // Counted without a lock: the watchers call these from their threads,
  // also while a reconfiguration stops and starts them.
  void on_watcher_events(uint64_t events) { watcher_events_ += events; }
  void on_watcher_overflow() { ++watcher_overflows_; }

 private:
  struct Work;
  void run();
  Work next_work();
  void try_load_model();
  void reconcile_roots(const std::vector<LiveRoot>& roots);
  void hold_gone_paths(const ChangedPaths& changes, ChangedPaths& now);
  void apply_changes(const ChangedPaths& changes);
  void forget_roots(const std::vector<std::string>& roots);
  void add_counts(const IndexingCounts& counts);
  // The progress callback of a run: records it in status_.run.
  ProgressCallback record_progress();
  void end_run();
  void update_catalog_status();
  void set_state(const std::string& state);
  // Waits, with backoff, until the catalogue answers again (or stop).
  void wait_for_catalogue(const std::string& problem);
  // The listener thread: wakes the indexing thread's follow step when a
  // commit is announced; reconnects a lost connection with the backoff of
  // wait_for_catalogue.
  void listen();
  // The roots in groups that share include and exclude lists, each group
  // with the indexing options of one run.
  std::vector<IndexingOptions> runs_for(const std::vector<LiveRoot>& roots) const;
  IndexingTarget target();
  ClipModel* model();

  // Set once, read by any thread.
  const std::filesystem::path data_dir_;
  const std::chrono::milliseconds follow_interval_;

  // The indexing thread's own.
  Catalog catalog_;
  std::shared_ptr<ModelSession> session_;  // set once the model is loaded
  std::unique_ptr<live::CountingModel> counting_model_;
  ModelId model_id_ = kNoModel;
  std::shared_ptr<VectorIndex> index_;
  std::optional<StatSignature> model_file_seen_;  // the missing model's file, last look
  std::chrono::steady_clock::time_point next_model_check_{};
  std::chrono::steady_clock::time_point next_reconcile_{};
  // A catalogue shared with other services (PostgreSQL): when to look for
  // their commits next, if none is announced before.
  std::chrono::steady_clock::time_point next_follow_{};

  // Shared, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  LiveOptions options_;
  bool reconcile_all_ = false;
  std::vector<std::string> rescan_roots_;
  std::vector<std::string> forgotten_roots_;
  std::vector<LiveRoot> added_roots_;
  ChangedPaths pending_;
  // Changes whose files were still being written when read: redone later.
  ChangedPaths retry_;
  std::chrono::steady_clock::time_point retry_at_{};
  // Paths that are gone, waiting for the other half of a move.
  ChangedPaths gone_;
  std::chrono::steady_clock::time_point gone_at_{};
  LiveStatus status_;
  std::shared_ptr<QueryEngine> engine_;
  std::exception_ptr error_;
  bool stopped_ = false;
  std::condition_variable stopped_cv_;

  // Commits announced by the listener thread (a shared catalogue): the
  // newest generation announced, and whether to look at once (it has just
  // connected, so commits may have gone unannounced).
  uint64_t announced_generation_ = 0;
  bool follow_now_ = false;

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> watcher_events_{0};
  std::atomic<uint64_t> watcher_overflows_{0};
  std::unique_ptr<live::LiveWatchers> watchers_;
  std::thread thread_;
  // A shared catalogue's announcements of commits, waited for on a thread
  // of their own (listen()).
  std::unique_ptr<ChangeListener> listener_;
  std::thread listener_thread_;
};

}  // namespace imgsearchd
