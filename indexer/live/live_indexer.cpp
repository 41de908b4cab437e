// The live indexer's thread: one loop that takes the next piece of work
// (stop, a model check, forgotten roots, a full reconcile, rescans of some
// roots, a batch of changes) and does it with the indexing pipeline.
#include "indexer/live/live_indexer.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <utility>

#include "indexer/live/counting_model.h"
#include "indexer/live/live_watchers.h"
#include "indexer/scan/path_filter.h"
#include "indexer/scan/scanner.h"
#include "indexer/scan/stat_signature.h"
#include "indexer/search/query_engine.h"
#include "indexer/weights/model_registry.h"
#include "store/data/data_dir.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// How long a path that is gone waits for the other half of its move.
constexpr std::chrono::milliseconds kGoneGrace{500};

bool is_under(const std::string& path, const std::string& folder) {
  if (folder == "/") return true;
  return path == folder ||
         (path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 && path[folder.size()] == '/');
}

std::optional<StatSignature> signature_of(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return std::nullopt;
  return stat_signature_of(st);
}

// How long one wait of the listener thread lasts: any length does (an
// announcement or a stop ends it at once); the follow interval is the
// indexing thread's.
constexpr std::chrono::seconds kListenWait{60};

}  // namespace

const std::vector<double>& ModelBatchTimes::bounds() {
  static const std::vector<double> bounds = {0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64};
  return bounds;
}

void ModelBatchTimes::add(double batch_seconds) {
  size_t bucket = 0;
  while (bucket < bounds().size() && batch_seconds > bounds()[bucket]) ++bucket;
  ++counts[bucket];
  ++batches;
  seconds += batch_seconds;
}

struct LiveIndexer::Work {
  bool stop = false;
  bool check_model = false;
  bool follow = false;                // catch up with other services' commits
  bool full = false;                  // `roots` is every root: a full reconcile
  std::vector<LiveRoot> roots;        // reconcile these
  std::vector<std::string> forget;    // roots no longer configured
  ChangedPaths changes;
  bool changes_final = false;         // gone paths whose wait is over: do not hold them again
};

LiveIndexer::LiveIndexer(LiveOptions options, Catalog catalog)
    : data_dir_(options.data_dir),
      follow_interval_(options.follow_interval),
      catalog_(std::move(catalog)),
      options_(std::move(options)) {
  status_.state = "starting";
  status_.model = options_.model.model;
}

LiveIndexer::~LiveIndexer() {
  request_stop();
  if (thread_.joinable()) thread_.join();
  if (listener_thread_.joinable()) listener_thread_.join();
  if (watchers_) watchers_->stop();
}

void LiveIndexer::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    reconcile_all_ = true;  // the start-up reconcile
  }
  watchers_ = std::make_unique<live::LiveWatchers>(*this, options_);
  if (catalog_.has_change_log()) {
    listener_ = catalog_.change_listener();
    listener_thread_ = std::thread([this] { listen(); });
  }
  thread_ = std::thread([this] { run(); });
}

void LiveIndexer::reconfigure(LiveOptions options) {
  // Unusable patterns are refused before anything changes (throws ScanError).
  for (const LiveRoot& root : options.roots) {
    CandidateRules rules;
    rules.extensions = options.indexing.scan.extensions;
    rules.include = root.include;
    rules.exclude = root.exclude;
    PathFilter check(rules);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::set<std::string> before, after;
  for (const LiveRoot& root : options_.roots) before.insert(normalized_root(root.path));
  for (const LiveRoot& root : options.roots) after.insert(normalized_root(root.path));
  for (const LiveRoot& root : options.roots) {
    if (!before.count(normalized_root(root.path))) {
      spdlog::info("new root {}: scanning and watching it", root.path.string());
      added_roots_.push_back(root);
    }
  }
  for (const std::string& root : before) {
    if (!after.count(root)) {
      spdlog::info("root {} is no longer configured: unwatching it; its files leave the results", root);
      forgotten_roots_.push_back(root);
    }
  }
  if (options.model.model != options_.model.model) {
    spdlog::warn("model.name changed from '{}' to '{}': the new model is used after a restart",
                 options_.model.model, options.model.model);
    options.model = options_.model;
  }
  options_ = std::move(options);
  // The new watcher starts after the old one stopped: a reconcile of every
  // root covers the moment between them (and scans the added roots).
  if (watchers_) watchers_->set_roots(options_);
  reconcile_all_ = true;
  wake_.notify_all();
}

void LiveIndexer::request_reconcile() {
  std::lock_guard<std::mutex> lock(mutex_);
  reconcile_all_ = true;
  wake_.notify_all();
}

void LiveIndexer::request_stop() {
  stop_ = true;
  if (listener_) listener_->interrupt();
  std::lock_guard<std::mutex> lock(mutex_);
  wake_.notify_all();
}

bool LiveIndexer::wait_stopped(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return stopped_cv_.wait_for(lock, timeout, [this] { return stopped_; });
}

std::exception_ptr LiveIndexer::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

LiveStatus LiveIndexer::status() const {
  LiveStatus status;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status = status_;
    status.pending_paths = pending_.files.size() + pending_.folders.size() + gone_.files.size() +
                           gone_.folders.size() + retry_.files.size() + retry_.folders.size();
  }
  status.counters.watcher_events = watcher_events_.load();
  status.counters.watcher_overflows = watcher_overflows_.load();
  if (watchers_) status.roots = watchers_->status();
  return status;
}

std::shared_ptr<QueryEngine> LiveIndexer::query_engine() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return engine_;
}

void LiveIndexer::on_changes(const ChangedPaths& changes) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.files.insert(pending_.files.end(), changes.files.begin(), changes.files.end());
  pending_.folders.insert(pending_.folders.end(), changes.folders.begin(), changes.folders.end());
  wake_.notify_all();
}

void LiveIndexer::on_root_rescan(const std::string& root) {
  std::lock_guard<std::mutex> lock(mutex_);
  rescan_roots_.push_back(normalized_root(root));
  wake_.notify_all();
}

void LiveIndexer::on_watch_warning(const std::string& warning) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (std::find(status_.warnings.begin(), status_.warnings.end(), warning) == status_.warnings.end())
    status_.warnings.push_back(warning);
}

void LiveIndexer::wait_for_catalogue(const std::string& problem) {
  spdlog::warn("indexing paused: {}", problem);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_.state = "waiting for the catalogue";
    status_.catalogue_problem = problem;
  }
  std::chrono::seconds delay{1};
  while (!stop_) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, delay, [this] { return stop_.load(); });
    }
    if (stop_) return;
    try {
      catalog_.generation();  // reconnects
      break;
    } catch (const StoreError& e) {
      delay = std::min(delay * 2, std::chrono::seconds{30});
      std::lock_guard<std::mutex> lock(mutex_);
      status_.catalogue_problem = e.what();
    }
  }
  spdlog::info("the catalogue is back: indexing resumes with a reconcile of every root");
  std::lock_guard<std::mutex> lock(mutex_);
  status_.catalogue_problem.clear();
  status_.state = "watching";
  reconcile_all_ = true;
}

void LiveIndexer::listen() {
  std::chrono::seconds delay{1};
  bool lost = false;
  while (!stop_) {
    ChangeListener::Woken woken;
    try {
      woken = listener_->wait(kListenWait);
    } catch (const std::exception& e) {  // StoreError: unreachable; anything else must not end the process
      if (!lost) spdlog::warn("not listening for other services' commits (looking every {} ms meanwhile): {}",
                              follow_interval_.count(), e.what());
      lost = true;
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, delay, [this] { return stop_.load(); });
      delay = std::min(delay * 2, std::chrono::seconds{30});
      continue;
    }
    if (woken.why == ChangeListener::Wake::connected) {
      if (lost) spdlog::info("listening for other services' commits again");
      lost = false;
      delay = std::chrono::seconds{1};
    }
    if (woken.why == ChangeListener::Wake::notified || woken.why == ChangeListener::Wake::connected) {
      std::lock_guard<std::mutex> lock(mutex_);
      announced_generation_ = std::max(announced_generation_, woken.generation);
      if (woken.why == ChangeListener::Wake::connected) follow_now_ = true;
      wake_.notify_all();
    }
  }
}

void LiveIndexer::set_state(const std::string& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (status_.state != "failed") status_.state = state;
}

// ---- The thread ----

void LiveIndexer::run() {
  try {
    try_load_model();
    next_reconcile_ = Clock::now() + options_.reconcile_interval;
    while (true) {
      Work work = next_work();
      if (work.stop) break;
      try {
        if (work.check_model) {
          try_load_model();
          continue;
        }
        if (work.follow) {
          next_follow_ = Clock::now() + follow_interval_;
          if (index_ && catalog_.catch_up(*index_) != StoreUpdate::current) {
            spdlog::debug("followed other services' commits: index at generation {}, {} vectors",
                          index_->generation(), index_->size());
          }
          continue;
        }
        if (!work.forget.empty()) {
          forget_roots(work.forget);
        } else if (!work.roots.empty() || work.full) {
          set_state("reconciling");
          reconcile_roots(work.roots);
          if (!work.full && !stop_) {
            std::lock_guard<std::mutex> lock(mutex_);
            status_.counters.root_rescans += work.roots.size();
          }
          if (work.full && !stop_) {
            std::lock_guard<std::mutex> lock(mutex_);
            ++status_.counters.reconciles;
            if (!status_.startup_reconcile_done) {
              status_.startup_reconcile_done = true;
              spdlog::info("start-up reconcile done: {} files indexed, {} failed, {} searchable", status_.files_ok,
                           status_.files_failed, status_.searchable);
            }
          }
        } else {
          set_state("indexing");
          ChangedPaths now;
          if (work.changes_final) {
            now = std::move(work.changes);
          } else {
            hold_gone_paths(work.changes, now);
          }
          if (!now.files.empty() || !now.folders.empty()) apply_changes(now);
        }
        set_state("watching");
      } catch (const StoreError& e) {
        // A shared PostgreSQL catalogue that went away: searches go on from
        // the index; indexing waits for the database, then reconciles every
        // root (what was in flight is found again). SQLite errors end it.
        if (!catalog_.has_change_log()) throw;
        wait_for_catalogue(e.what());
      }
    }
    set_state("stopping");
    if (index_) index_->checkpoint();
    set_state("stopped");
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    status_.state = "failed";
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      status_.error = e.what();
      spdlog::error("indexing stopped: {}", e.what());
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
  stopped_cv_.notify_all();
}

LiveIndexer::Work LiveIndexer::next_work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    Work work;
    if (stop_) {
      work.stop = true;
      return work;
    }
    const Clock::time_point now = Clock::now();
    if (!session_ && now >= next_model_check_) {
      work.check_model = true;
      return work;
    }
    // Our own commits are announced too: those the index holds need no look.
    if (catalog_.has_change_log() && index_ &&
        (now >= next_follow_ || follow_now_ || announced_generation_ > index_->generation())) {
      follow_now_ = false;
      work.follow = true;
      return work;
    }
    if (options_.reconcile_interval.count() > 0 && now >= next_reconcile_) reconcile_all_ = true;
    if (!forgotten_roots_.empty()) {
      work.forget = std::move(forgotten_roots_);
      forgotten_roots_.clear();
      return work;
    }
    if (reconcile_all_) {
      // Covers every rescan asked for and every change queued so far.
      reconcile_all_ = false;
      rescan_roots_.clear();
      added_roots_.clear();
      pending_ = ChangedPaths{};
      retry_ = ChangedPaths{};
      gone_ = ChangedPaths{};
      work.full = true;
      work.roots = options_.roots;
      next_reconcile_ = now + options_.reconcile_interval;
      return work;
    }
    if (!added_roots_.empty() || !rescan_roots_.empty()) {
      std::set<std::string> wanted(rescan_roots_.begin(), rescan_roots_.end());
      for (const LiveRoot& root : added_roots_) wanted.insert(normalized_root(root.path));
      for (const LiveRoot& root : options_.roots)
        if (wanted.count(normalized_root(root.path))) work.roots.push_back(root);
      added_roots_.clear();
      rescan_roots_.clear();
      if (!work.roots.empty()) return work;
    }
    if ((!retry_.files.empty() || !retry_.folders.empty()) && now >= retry_at_) {
      pending_.files.insert(pending_.files.end(), retry_.files.begin(), retry_.files.end());
      pending_.folders.insert(pending_.folders.end(), retry_.folders.begin(), retry_.folders.end());
      retry_ = ChangedPaths{};
    }
    if ((!gone_.files.empty() || !gone_.folders.empty()) && now >= gone_at_) {
      work.changes = std::move(gone_);
      gone_ = ChangedPaths{};
      work.changes.files.insert(work.changes.files.end(), pending_.files.begin(), pending_.files.end());
      work.changes.folders.insert(work.changes.folders.end(), pending_.folders.begin(), pending_.folders.end());
      pending_ = ChangedPaths{};
      work.changes_final = true;
      return work;
    }
    if (!pending_.files.empty() || !pending_.folders.empty()) {
      work.changes = std::move(pending_);
      pending_ = ChangedPaths{};
      return work;
    }
    Clock::time_point until = Clock::time_point::max();
    if (!session_) until = std::min(until, next_model_check_);
    if (catalog_.has_change_log() && index_) until = std::min(until, next_follow_);
    if (options_.reconcile_interval.count() > 0) until = std::min(until, next_reconcile_);
    if (!retry_.files.empty() || !retry_.folders.empty()) until = std::min(until, retry_at_);
    if (!gone_.files.empty() || !gone_.folders.empty()) until = std::min(until, gone_at_);
    if (until == Clock::time_point::max()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, until);
    }
  }
}

// Loads the model once its file is there and has stopped changing (it may be
// being copied): a file first seen now is loaded at the next check, unless
// it was there from the start.
void LiveIndexer::try_load_model() {
  const ModelSessionOptions options = [&] {
    std::lock_guard<std::mutex> lock(mutex_);
    return options_.model;
  }();
  const bool first_check = next_model_check_ == Clock::time_point{};
  next_model_check_ = Clock::now() + options_.model_check;
  auto missing = [&](const std::string& problem) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_.model_problem != problem) {
      spdlog::warn("{}", problem);
      spdlog::warn("until the model is there, files are catalogued and hashed but not searchable; "
                   "it is picked up without a restart");
    }
    status_.model_problem = problem;
  };

  fs::path weights;
  try {
    weights = resolve_model_path(options.model, models_dir_or_default(options.models_dir));
  } catch (const std::exception& e) {
    model_file_seen_.reset();
    missing(e.what());
    return;
  }
  const std::optional<StatSignature> seen = signature_of(weights);
  if (!first_check && (!seen || !model_file_seen_ || !(*seen == *model_file_seen_))) {
    model_file_seen_ = seen;  // look again at the next check: is it still changing?
    return;
  }
  model_file_seen_ = seen;

  std::unique_ptr<ModelSession> session;
  try {
    session = std::make_unique<ModelSession>(options);
  } catch (const std::exception& e) {
    missing(std::string("cannot load the model: ") + e.what());
    return;
  }
  const ModelInfo& info = session->info();
  model_id_ = catalog_.model(session->name(), info.fingerprint, info.embed_dim);
  OpenedIndex opened = VectorIndex::open(vector_index_path(data_dir_, model_id_), catalog_, model_id_, options_.index);
  auto index = std::make_shared<VectorIndex>(std::move(opened.index));
  auto shared_session = std::shared_ptr<ModelSession>(std::move(session));
  counting_model_ = std::make_unique<live::CountingModel>(shared_session->model());
  // The engine keeps the session and the index alive for as long as a
  // caller holds it.
  struct EngineHolder {
    std::shared_ptr<ModelSession> session;
    std::shared_ptr<VectorIndex> index;
    QueryEngine engine;
    EngineHolder(std::shared_ptr<ModelSession> s, std::shared_ptr<VectorIndex> i, const CatalogLocation& catalog)
        : session(std::move(s)), index(std::move(i)), engine(catalog, *index, *session) {}
  };
  auto holder = std::make_shared<EngineHolder>(shared_session, index, catalog_.location());
  spdlog::info("model {} loaded ({}, {} dimensions); its index holds {} images", shared_session->name(),
               shared_session->weights().string(), info.embed_dim, index->size());

  std::lock_guard<std::mutex> lock(mutex_);
  session_ = shared_session;
  index_ = index;
  engine_ = std::shared_ptr<QueryEngine>(holder, &holder->engine);
  status_.model_loaded = true;
  const bool was_missing = !status_.model_problem.empty();
  status_.model_problem.clear();
  // What was catalogued without the model is embedded now.
  if (was_missing) reconcile_all_ = true;
}

std::vector<IndexingOptions> LiveIndexer::runs_for(const std::vector<LiveRoot>& roots) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<IndexingOptions> runs;
  for (const LiveRoot& root : roots) {
    if (runs.empty() || runs.back().scan.include != root.include || runs.back().scan.exclude != root.exclude) {
      IndexingOptions options = options_.indexing;
      options.scan.roots.clear();
      options.scan.include = root.include;
      options.scan.exclude = root.exclude;
      runs.push_back(std::move(options));
    }
    runs.back().scan.roots.push_back(root.path);
  }
  return runs;
}

IndexingTarget LiveIndexer::target() { return IndexingTarget{catalog_, model_id_, index_.get()}; }

ClipModel* LiveIndexer::model() { return counting_model_.get(); }

void LiveIndexer::reconcile_roots(const std::vector<LiveRoot>& roots) {
  const PreprocessOptions preprocess = session_ ? session_->preprocess() : PreprocessOptions{};
  for (const IndexingOptions& run : runs_for(roots)) {
    if (stop_) return;
    const IndexingSummary summary = run_indexing(target(), model(), preprocess, run, record_progress(), &stop_);
    end_run();
    add_counts(summary.counts);
    const IndexingCounts& c = summary.counts;
    std::string folders;
    for (const auto& root : run.scan.roots) folders += (folders.empty() ? "" : ", ") + root.string();
    spdlog::info("reconciled {}: {} files, {} unchanged, {} embedded, {} attached or re-attached, {} catalogued "
                 "without a model, {} failed, {} removed",
                 folders, c.scanned, c.unchanged, c.embedded, c.attached + c.reattached, c.catalogued, c.failed,
                 c.removed);
  }
  update_catalog_status();
}

// A rename or move reaches the watcher as two events (the old path gone, the
// new one there) that may land in different batches. The pipeline lets a
// new path take an old path's content without a read only while the old
// path is still catalogued, so paths that no longer exist wait a moment
// (kGoneGrace) for their other half; the new paths go first.
void LiveIndexer::hold_gone_paths(const ChangedPaths& changes, ChangedPaths& now) {
  ChangedPaths gone;
  auto split = [](const std::vector<std::string>& paths, std::vector<std::string>& present,
                  std::vector<std::string>& absent) {
    for (const std::string& path : paths) {
      struct stat st {};
      (::lstat(path.c_str(), &st) == 0 ? present : absent).push_back(path);
    }
  };
  split(changes.files, now.files, gone.files);
  split(changes.folders, now.folders, gone.folders);
  if (gone.files.empty() && gone.folders.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (gone_.files.empty() && gone_.folders.empty()) gone_at_ = Clock::now() + kGoneGrace;
  gone_.files.insert(gone_.files.end(), gone.files.begin(), gone.files.end());
  gone_.folders.insert(gone_.folders.end(), gone.folders.begin(), gone.folders.end());
}

void LiveIndexer::apply_changes(const ChangedPaths& changes) {
  std::vector<LiveRoot> roots;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_.counters.change_batches += 1;
    status_.counters.changed_paths += changes.files.size() + changes.folders.size();
    roots = options_.roots;
  }
  const PreprocessOptions preprocess = session_ ? session_->preprocess() : PreprocessOptions{};
  const std::vector<IndexingOptions> runs = runs_for(roots);
  for (const IndexingOptions& run : runs) {
    if (stop_) return;
    // Each run ignores what lies outside its roots.
    const IndexingSummary summary =
        run_indexing_changes(target(), model(), preprocess, run, changes, record_progress(), &stop_);
    end_run();
    add_counts(summary.counts);
    const IndexingCounts& c = summary.counts;
    spdlog::debug("changes: {} looked at, {} embedded, {} attached or re-attached, {} catalogued, {} failed, {} "
                  "removed, {} deferred",
                  c.scanned, c.embedded, c.attached + c.reattached, c.catalogued, c.failed, c.removed, c.deferred);
    if (c.deferred > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      retry_.files.insert(retry_.files.end(), changes.files.begin(), changes.files.end());
      retry_.folders.insert(retry_.folders.end(), changes.folders.begin(), changes.folders.end());
      retry_at_ = Clock::now() + std::max<Clock::duration>(options_.settle, std::chrono::milliseconds(100));
    }
  }
  update_catalog_status();
}

// The files of roots no longer configured leave the results, except those
// that are also under a root still configured (nested roots).
void LiveIndexer::forget_roots(const std::vector<std::string>& roots) {
  std::vector<std::string> remaining;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const LiveRoot& root : options_.roots) remaining.push_back(normalized_root(root.path));
  }
  std::vector<std::string> gone;
  for (const std::string& root : roots) {
    for (std::string& path : catalog_.paths_under(root)) {
      const bool kept = std::any_of(remaining.begin(), remaining.end(),
                                    [&](const std::string& other) { return is_under(path, other); });
      if (!kept) gone.push_back(std::move(path));
    }
  }
  const size_t chunk = 1024;
  for (size_t begin = 0; begin < gone.size(); begin += chunk) {
    Batch batch;
    batch.model = model_id_;
    batch.deleted.assign(gone.begin() + begin, gone.begin() + std::min(gone.size(), begin + chunk));
    const CommitResult result = catalog_.commit(batch);
    if (index_) catalog_.apply_commit(*index_, result);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_.counters.removed += gone.size();
  }
  if (!gone.empty() && index_) index_->checkpoint();
  spdlog::info("{} files of removed roots left the results", gone.size());
  update_catalog_status();
}

void LiveIndexer::add_counts(const IndexingCounts& c) {
  std::lock_guard<std::mutex> lock(mutex_);
  LiveCounters& t = status_.counters;
  t.hashed += c.hashed;
  t.attached += c.attached;
  t.reattached += c.reattached;
  t.catalogued += c.catalogued;
  t.failed += c.failed;
  t.removed += c.removed;
  t.deferred += c.deferred;
  if (counting_model_) {
    t.embedded = counting_model_->images();
    t.model_calls = counting_model_->calls();
    status_.model_batches = counting_model_->times();
  }
}

ProgressCallback LiveIndexer::record_progress() {
  return [this](const IndexingProgress& progress) {
    std::lock_guard<std::mutex> lock(mutex_);
    status_.run = LiveRunProgress{progress.phase != IndexingProgress::Phase::finished, progress.done, progress.total,
                                  progress.seconds};
  };
}

void LiveIndexer::end_run() {
  std::lock_guard<std::mutex> lock(mutex_);
  status_.run = LiveRunProgress{};
}

void LiveIndexer::update_catalog_status() {
  const CatalogCounts counts = catalog_.counts();
  const uint64_t generation = catalog_.generation();
  const uint64_t vectors = index_ ? index_->size() : 0;
  std::lock_guard<std::mutex> lock(mutex_);
  status_.vectors = vectors;
  status_.generation = generation;
  status_.files_ok = counts.files_ok;
  status_.files_failed = counts.files_failed;
  const auto live = counts.live.find(model_id_);
  status_.searchable = session_ && live != counts.live.end() ? live->second : 0;
}

}  // namespace imgsearchd
