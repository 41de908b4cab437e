// The three phases of an indexing run (see indexing_pipeline.h): a plan, from
// a full scan or from a set of changes, then the same hash/decode/batch/commit
// and removals. The workers are in indexing_workers.cpp, the batching and
// commits in indexing_batcher.cpp.
#include "indexer/pipeline/indexing_pipeline.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "indexer/pipeline/bounded_queue.h"
#include "indexer/pipeline/indexing_batcher.h"
#include "indexer/pipeline/indexing_work.h"
#include "indexer/pipeline/indexing_workers.h"
#include "store/core/errors.h"

namespace imgsearchd {
namespace {

using indexing::Batcher;
using indexing::WorkerPool;
using indexing::WorkFile;
using indexing::WorkItem;
using Clock = std::chrono::steady_clock;

bool is_under(const std::string& path, const std::string& folder) {
  if (folder == "/") return path.size() > 1 && path[0] == '/';
  return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 && path[folder.size()] == '/';
}

bool is_at_or_under(const std::string& path, const std::string& folder) {
  return path == folder || is_under(path, folder);
}

int worker_count(int configured) {
  if (configured > 0) return configured;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

bool stop_requested(const std::atomic<bool>* stop) { return stop && stop->load(); }

bool is_folder(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void check_target(const IndexingTarget& target, const ClipModel* model) {
  if (model != nullptr && (target.model == kNoModel || target.store == nullptr)) {
    throw InvalidInput("an indexing run with a model needs the model's catalogue id and vector store");
  }
  if (model != nullptr && target.store->model() != target.model) {
    throw InvalidInput("the vector store holds model " + std::to_string(target.store->model()) +
                                ", the run indexes model " + std::to_string(target.model));
  }
  if (model == nullptr && (target.model != kNoModel || target.store != nullptr)) {
    throw InvalidInput("an indexing run without a model takes kNoModel and no vector store (model id " +
                                std::to_string(target.model) + " was given)");
  }
}

// One run: the plan (what needs work, what is gone), then the work.
class IndexingRun {
 public:
  IndexingRun(const IndexingTarget& target, ClipModel* model, const PreprocessOptions& preprocess,
              const IndexingOptions& options, const ProgressCallback& on_progress, const std::atomic<bool>* stop)
      : target_(target),
        model_(model),
        preprocess_(preprocess),
        options_(options),
        on_progress_(on_progress),
        stop_(stop),
        start_(Clock::now()) {
    check_target(target, model);
    scan_options_ = options.scan;
    scan_options_.roots.clear();
  }

  // Plan from a scan of every root.
  void plan_full() {
    std::unordered_map<std::string, KnownFile> known;
    for (const auto& root : options_.scan.roots) {
      const std::string text = normalized_root(root);
      if (offline(text)) continue;
      scan_options_.roots.push_back(text);
      known.merge(target_.catalog.known_files(target_.model, text));
    }
    if (scan_options_.roots.empty()) return;
    const ScanSummary scanned = scan(scan_options_, [&](const ScannedFile& file) { return saw(file, known); });
    finish_scan(scanned, known);
  }

  // Plan from what changed: only these paths and folders are looked at.
  void plan_changes(const ChangedPaths& changes) {
    dedupe_ = true;
    std::vector<std::string> roots;
    for (const auto& root : options_.scan.roots) roots.push_back(normalized_root(root));

    // Folders first, outermost only: a folder below another is covered by it.
    std::vector<std::string> folders, files;
    auto place = [&](const std::string& given, std::vector<std::string>& into) {
      const std::string path = normalized_root(given);
      const auto root = std::find_if(roots.begin(), roots.end(),
                                     [&](const std::string& r) { return is_at_or_under(path, r); });
      if (root == roots.end()) {
        ++summary_.counts.ignored;
        spdlog::debug("change to {} ignored: it is under none of the roots", path);
        return;
      }
      if (path == *root || is_folder(path)) {
        folders.push_back(path);
      } else {
        into.push_back(path);
      }
    };
    for (const std::string& folder : changes.folders) place(folder, folders);
    for (const std::string& file : changes.files) place(file, files);
    const std::unordered_set<std::string> given(folders.begin(), folders.end());
    // Whether a folder above `path` (not `path` itself) is given: checks each
    // ancestor, so the cost is the path's depth.
    auto below_given = [&](const std::string& path) {
      for (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0; slash = path.rfind('/', slash - 1)) {
        if (given.count(path.substr(0, slash))) return true;
      }
      return path.size() > 1 && given.count("/");
    };
    std::vector<std::string> outermost;
    for (const std::string& folder : given) {
      if (!below_given(folder)) outermost.push_back(folder);
    }
    std::sort(outermost.begin(), outermost.end());
    auto covered = [&](const std::string& path) { return given.count(path) || below_given(path); };

    for (const std::string& folder : outermost) {
      if (stop_requested(stop_)) break;
      const std::string& root = root_of(folder, roots);
      if (offline(root)) continue;
      single_root(root);
      std::unordered_map<std::string, KnownFile> known = target_.catalog.known_files(target_.model, folder);
      if (const auto file = target_.catalog.known_file(target_.model, folder)) known.emplace(folder, *file);
      if (!is_folder(folder)) {
        // Gone (or a file now, which a folder change does not index: its
        // watcher reports it as a file).
        if (const auto file = scan_file(scan_options_, folder)) {
          saw(*file, known);
        }
        finish_scan(ScanSummary{}, known);
        continue;
      }
      const ScanSummary scanned =
          scan_below(scan_options_, folder, [&](const ScannedFile& file) { return saw(file, known); });
      finish_scan(scanned, known);
    }

    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    for (const std::string& path : files) {
      if (stop_requested(stop_)) break;
      if (covered(path)) continue;
      const std::string& root = root_of(path, roots);
      if (offline(root)) continue;
      single_root(root);
      std::unordered_map<std::string, KnownFile> known;
      if (const auto file = target_.catalog.known_file(target_.model, path)) known.emplace(path, *file);
      if (const auto file = scan_file(scan_options_, path)) {
        saw(*file, known);
      } else {
        // Gone or no longer a candidate; if it was a folder, so is what the
        // catalogue has below it.
        for (std::string& below : target_.catalog.paths_under(path)) known.emplace(std::move(below), KnownFile{});
      }
      finish_scan(ScanSummary{}, known);
    }
    summary_.stopped = summary_.stopped || stop_requested(stop_);
  }

  // Phases 2 and 3, the same for both plans.
  IndexingSummary execute() {
    IndexingCounts& counts = summary_.counts;
    indexing::ContentClaims claims;
    Batcher batcher(target_, model_, options_, preprocess_, claims, counts, done_, [this] { report(); });

    // Phase 2: hash, decode, embed, commit.
    phase_ = IndexingProgress::Phase::indexing;
    total_ = work_.size();
    // The vector store grows once, to what this run may add (every work file
    // embedded, at most), rather than doubling as the vectors come.
    if (model_ != nullptr && !work_.empty()) target_.store->reserve(target_.store->size() + work_.size());
    report();
    if (!work_.empty() && !summary_.stopped) {
      BoundedQueue<WorkItem> queue(options_.queue_size);
      const Catalog& catalog = target_.catalog;
      WorkerPool workers(work_, [&catalog] { return catalog.open_reader(); }, target_.model, preprocess_,
                         worker_count(options_.decode_threads), options_.decode_memory_bytes,
                         options_.decode_niceness, claims, queue, stop_);
      pool_ = &workers;
      while (std::optional<WorkItem> item = queue.pop()) {
        // Asked to stop: finish the batch being gathered, but run no more
        // images through the model; the next run decodes them again.
        if (item->kind == WorkItem::Kind::embed && stop_requested(stop_)) continue;
        batcher.add(std::move(*item));
      }
      batcher.finish();  // commit what is done even if a worker failed
      counts.hashed = workers.hashed();
      counts.reattached = workers.reattached();
      pool_ = nullptr;
      workers.join();  // rethrows a worker's unexpected error
      summary_.stopped = stop_requested(stop_);
    }
    work_ = {};
    // A service goes idle after a run: it should not sit on the run's peak.
    indexing::return_freed_memory();

    // Phase 3: after phase 2, so a moved file's old path could lend it its content.
    if (!summary_.stopped && !gone_.empty()) {
      phase_ = IndexingProgress::Phase::removing;
      total_ += gone_.size();
      for (const std::string& path : gone_) batcher.remove_path(path);
      gone_ = {};
      batcher.finish();
    }

    batcher.save_index();
    phase_ = IndexingProgress::Phase::finished;
    summary_.seconds = seconds();
    report();
    return std::move(summary_);
  }

 private:
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  void report() {
    if (pool_) {
      summary_.counts.hashed = pool_->hashed();
      summary_.counts.reattached = pool_->reattached();
    }
    if (on_progress_) on_progress_(IndexingProgress{phase_, done_, total_, summary_.counts, seconds()});
  }

  // A root that cannot be scanned (an unmounted drive) is offline: what the
  // catalogue has under it stays as it is. Reported once per run.
  bool offline(const std::string& root) {
    const auto listed = std::find_if(summary_.offline_roots.begin(), summary_.offline_roots.end(),
                                     [&](const OfflineRoot& r) { return r.root == root; });
    if (listed != summary_.offline_roots.end()) return true;
    const std::optional<std::string> problem = root_problem(root);
    if (!problem) return false;
    const uint64_t kept = target_.catalog.known_files(target_.model, root).size();
    spdlog::warn("{}; treating it as offline: its {} indexed files are kept", *problem, kept);
    summary_.offline_roots.push_back(OfflineRoot{root, *problem, kept});
    summary_.counts.skipped_offline += kept;
    return true;
  }

  static const std::string& root_of(const std::string& path, const std::vector<std::string>& roots) {
    return *std::find_if(roots.begin(), roots.end(), [&](const std::string& r) { return is_at_or_under(path, r); });
  }

  // The scan options for a change below `root`: the patterns are relative to it.
  void single_root(const std::string& root) { scan_options_.roots.assign(1, root); }

  // A candidate on disk: settled (nothing to do) or work. Erases it from
  // `known`, so what is left there was not seen.
  bool saw(const ScannedFile& file, std::unordered_map<std::string, KnownFile>& known) {
    IndexingCounts& counts = summary_.counts;
    if (dedupe_ && !planned_.insert(file.path).second) return !stop_requested(stop_);  // met twice
    ++counts.scanned;
    const auto found = known.find(file.path);
    if (found == known.end()) {
      work_.push_back(WorkFile{file.path, file.signature, false});
    } else {
      if (settled(found->second, file.signature)) {
        ++counts.unchanged;
      } else {
        work_.push_back(WorkFile{file.path, file.signature, true});
      }
      known.erase(found);
    }
    if (counts.scanned % 4096 == 0) report();
    return !stop_requested(stop_);
  }

  // Nothing to do for a file whose signature is as recorded and that is
  // embedded for the model, or failed as it is now; with no model, one
  // whose content is recorded.
  bool settled(const KnownFile& before, const StatSignature& now) const {
    if (before.signature != now) return false;
    if (before.state == FileState::failed) return true;
    return model_ != nullptr ? before.has_embedding : before.vector_id.has_value();
  }

  // What a scan left in `known` is gone, unless below a folder it could not
  // list (its state is unknown).
  void finish_scan(const ScanSummary& scanned, const std::unordered_map<std::string, KnownFile>& known) {
    for (const ScanWarning& warning : scanned.warnings) spdlog::warn("{}", warning.message);
    const std::vector<std::string> unlisted = scanned.unlisted_folders();
    summary_.unlisted_folders.insert(summary_.unlisted_folders.end(), unlisted.begin(), unlisted.end());
    summary_.stopped = summary_.stopped || scanned.stopped;
    if (summary_.stopped) return;
    for (const auto& [path, file] : known) {
      const bool unknown = std::any_of(unlisted.begin(), unlisted.end(),
                                       [&](const std::string& folder) { return is_under(path, folder); });
      if (!unknown && !planned_.count(path)) gone_.insert(path);
    }
  }

  const IndexingTarget& target_;
  ClipModel* model_;
  const PreprocessOptions& preprocess_;
  const IndexingOptions& options_;
  const ProgressCallback& on_progress_;
  const std::atomic<bool>* stop_;
  const Clock::time_point start_;
  ScanOptions scan_options_;

  IndexingSummary summary_;
  IndexingProgress::Phase phase_ = IndexingProgress::Phase::scanning;
  uint64_t done_ = 0, total_ = 0;
  const WorkerPool* pool_ = nullptr;

  std::vector<WorkFile> work_;
  std::set<std::string> gone_;                // sorted: removed in path order
  // Change runs: the candidates seen on disk, so a path given twice (or as a
  // file and inside a folder) is planned once. A full scan meets each path once.
  bool dedupe_ = false;
  std::unordered_set<std::string> planned_;
};

}  // namespace

IndexingCounts& operator+=(IndexingCounts& total, const IndexingCounts& run) {
  total.scanned += run.scanned;
  total.unchanged += run.unchanged;
  total.hashed += run.hashed;
  total.reattached += run.reattached;
  total.attached += run.attached;
  total.catalogued += run.catalogued;
  total.embedded += run.embedded;
  total.failed += run.failed;
  total.removed += run.removed;
  total.skipped_offline += run.skipped_offline;
  total.deferred += run.deferred;
  total.ignored += run.ignored;
  return total;
}

IndexingSummary& operator+=(IndexingSummary& total, const IndexingSummary& run) {
  total.counts += run.counts;
  total.seconds += run.seconds;
  total.stopped = total.stopped || run.stopped;
  total.offline_roots.insert(total.offline_roots.end(), run.offline_roots.begin(), run.offline_roots.end());
  total.unlisted_folders.insert(total.unlisted_folders.end(), run.unlisted_folders.begin(),
                                run.unlisted_folders.end());
  return total;
}

IndexingSummary run_indexing(const IndexingTarget& target, ClipModel* model, const PreprocessOptions& preprocess,
                             const IndexingOptions& options, const ProgressCallback& on_progress,
                             const std::atomic<bool>* stop) {
  IndexingRun run(target, model, preprocess, options, on_progress, stop);
  run.plan_full();
  return run.execute();
}

IndexingSummary run_indexing(const IndexingTarget& target, ClipModel& model, const PreprocessOptions& preprocess,
                             const IndexingOptions& options, const ProgressCallback& on_progress,
                             const std::atomic<bool>* stop) {
  return run_indexing(target, &model, preprocess, options, on_progress, stop);
}

IndexingSummary run_indexing_changes(const IndexingTarget& target, ClipModel* model,
                                     const PreprocessOptions& preprocess, const IndexingOptions& options,
                                     const ChangedPaths& changes, const ProgressCallback& on_progress,
                                     const std::atomic<bool>* stop) {
  IndexingRun run(target, model, preprocess, options, on_progress, stop);
  run.plan_changes(changes);
  return run.execute();
}

void check_roots(const std::vector<std::filesystem::path>& roots, const Catalog& catalog) {
  for (const std::filesystem::path& root : roots) {
    const std::optional<std::string> problem = root_problem(root);
    if (problem && catalog.paths_under(normalized_root(root)).empty()) throw NotFound("cannot index: " + *problem);
  }
}

}  // namespace imgsearchd
