// The three phases of an indexing run (see indexing_pipeline.h). The workers
// are in indexing_workers.cpp, the batching and commits in indexing_batcher.cpp.
#include "indexer/pipeline/indexing_pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <unordered_map>
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
  if (folder == "/") return true;
  return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 && path[folder.size()] == '/';
}

int worker_count(int configured) {
  if (configured > 0) return configured;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

bool stop_requested(const std::atomic<bool>* stop) { return stop && stop->load(); }

}  // namespace

IndexingSummary run_indexing(const IndexingTarget& target, ClipModel& model, const PreprocessOptions& preprocess,
                             const IndexingOptions& options, const ProgressCallback& on_progress,
                             const std::atomic<bool>* stop) {
  const Clock::time_point start = Clock::now();
  IndexingSummary summary;
  IndexingCounts& counts = summary.counts;
  IndexingProgress::Phase phase = IndexingProgress::Phase::scanning;
  uint64_t done = 0, total = 0;
  const WorkerPool* pool = nullptr;
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  auto report = [&] {
    if (pool) counts.hashed = pool->hashed();
    if (on_progress) on_progress(IndexingProgress{phase, done, total, counts, seconds()});
  };

  // Roots that cannot be scanned (an unmounted drive) are offline: what the
  // catalogue has under them stays as it is.
  ScanOptions scan_options = options.scan;
  scan_options.roots.clear();
  std::unordered_map<std::string, KnownFile> known;
  for (const auto& root : options.scan.roots) {
    const std::string text = normalized_root(root);
    if (const std::optional<std::string> problem = root_problem(text)) {
      const uint64_t kept = target.catalog.known_files(target.model, text).size();
      spdlog::warn("{}; treating it as offline: its {} indexed files are kept", *problem, kept);
      summary.offline_roots.push_back(OfflineRoot{text, *problem, kept});
      counts.skipped_offline += kept;
      continue;
    }
    scan_options.roots.push_back(text);
    known.merge(target.catalog.known_files(target.model, text));
  }

  // Phase 1: scan and keep what needs work. Whatever is left in `known`
  // afterwards was not seen.
  std::vector<WorkFile> work;
  std::vector<std::string> unlisted;
  if (!scan_options.roots.empty()) {
    const ScanSummary scanned = scan(scan_options, [&](const ScannedFile& file) {
      ++counts.scanned;
      const auto found = known.find(file.path);
      if (found == known.end()) {
        work.push_back(WorkFile{file.path, file.signature, false});
      } else {
        const KnownFile& before = found->second;
        const bool settled = before.signature == file.signature &&
                             (before.state == FileState::failed || before.has_embedding);
        if (settled) {
          ++counts.unchanged;
        } else {
          work.push_back(WorkFile{file.path, file.signature, true});
        }
        known.erase(found);
      }
      if (counts.scanned % 4096 == 0) report();
      return !stop_requested(stop);
    });
    for (const ScanWarning& warning : scanned.warnings) spdlog::warn("{}", warning.message);
    unlisted = scanned.unlisted_folders();
    summary.unlisted_folders = unlisted;
    summary.stopped = scanned.stopped;
  }

  indexing::ContentClaims claims;
  indexing::Batcher batcher(target, model, options, claims, counts, done, report);

  // Phase 2: hash, decode, embed, commit.
  phase = IndexingProgress::Phase::indexing;
  total = work.size();
  report();
  if (!work.empty() && !summary.stopped) {
    BoundedQueue<WorkItem> queue(options.queue_size);
    WorkerPool workers(work, target.catalog.file(), target.model, preprocess, worker_count(options.decode_threads),
                       claims, queue, stop);
    pool = &workers;
    while (std::optional<WorkItem> item = queue.pop()) {
      // Asked to stop: finish the batch being gathered, but run no more
      // images through the model; the next run decodes them again.
      if (item->kind == WorkItem::Kind::embed && stop_requested(stop)) continue;
      batcher.add(std::move(*item));
    }
    batcher.finish();  // commit what is done even if a worker failed
    counts.hashed = workers.hashed();
    pool = nullptr;
    workers.join();  // rethrows a worker's unexpected error
    summary.stopped = stop_requested(stop);
  }
  work = {};

  // Phase 3: paths the scan did not see are gone, unless their folder could
  // not be listed (their state is unknown).
  if (!summary.stopped && !known.empty()) {
    phase = IndexingProgress::Phase::removing;
    std::vector<std::string> gone;
    for (const auto& [path, file] : known) {
      const bool unknown = std::any_of(unlisted.begin(), unlisted.end(),
                                       [&](const std::string& folder) { return is_under(path, folder); });
      if (!unknown) gone.push_back(path);
    }
    known = {};
    std::sort(gone.begin(), gone.end());
    total += gone.size();
    for (const std::string& path : gone) batcher.remove_path(path);
    batcher.finish();
  }

  batcher.save_index();
  phase = IndexingProgress::Phase::finished;
  summary.seconds = seconds();
  report();
  return summary;
}

void check_roots(const std::vector<std::filesystem::path>& roots, const Catalog& catalog) {
  for (const std::filesystem::path& root : roots) {
    const std::optional<std::string> problem = root_problem(root);
    if (problem && catalog.paths_under(normalized_root(root)).empty()) throw NotFound("cannot index: " + *problem);
  }
}

}  // namespace imgsearchd
