// The indexing pipeline: makes the catalogue and the vector index of one
// model match the image files under some folders, in one pass, and returns.
//
//  1. scan      every root (streaming) and compare each file's stat signature
//               with the catalogue: an unchanged file that is embedded for
//               this model, or that failed as it is now, is not read. The rest
//               is the work, so progress has a real total.
//  2. index     `decode_threads` workers hash each file (XXH3-128). Content
//               that already has an embedding for the model only attaches the
//               path (rename, move, copy: no model time); new content is
//               decoded and preprocessed; a bad file becomes a failure with
//               its reason. A bounded queue feeds one batcher, which runs the
//               model on `batch_size` images at a time and commits each batch
//               (attaches and failures ride along) in one catalogue
//               transaction, then applies it to the vector index. Identical
//               new content met twice in a run is embedded once.
//  3. remove    catalogue paths under a scanned root that the scan did not
//               see are deleted, except below folders the scanner could not
//               list; a root that is missing (an unmounted drive) is offline:
//               its files are kept. Content left without a path leaves the
//               vector index (its embedding stays cached in the catalogue).
//
// The vector index is saved every `save_every_batches` commits and at the
// end. A crash at any moment loses at most the batch in flight: the next run
// finds the committed files unchanged and does the rest.
//
// Threads: call from the thread that owns the writer Catalog. The model runs
// on that thread too; workers only hash and decode.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "indexer/image/image_loader.h"
#include "indexer/scan/scanner.h"
#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {

class ClipModel;

struct IndexingOptions {
  ScanOptions scan;                 // the roots and what is a candidate
  int decode_threads = 0;           // hashing and decoding workers; 0 = one per core
  size_t queue_size = 64;           // decoded images waiting for the model, at most
  size_t batch_size = 16;           // images per model call
  size_t max_files_per_commit = 1024;  // attaches, failures and deletions per transaction, at most
  size_t save_every_batches = 256;  // save the vector index after this many commits (and at the end)
};

// What happened to the files, counted once each.
struct IndexingCounts {
  uint64_t scanned = 0;          // candidate files the scan found
  uint64_t unchanged = 0;        // fast path: not read
  uint64_t hashed = 0;           // read and hashed
  uint64_t attached = 0;         // path recorded for content already embedded: no model time
  uint64_t embedded = 0;         // images run through the model
  uint64_t failed = 0;           // recorded as failed this run (corrupt, unreadable, not an image, ...)
  uint64_t removed = 0;          // paths deleted from the catalogue (gone from disk)
  uint64_t skipped_offline = 0;  // catalogue files under offline roots, left as they were
  uint64_t deferred = 0;         // changed while being read: left for the next run
};

struct IndexingProgress {
  enum class Phase { scanning, indexing, removing, finished };
  Phase phase = Phase::scanning;
  uint64_t done = 0;   // files of the work finished (committed)
  uint64_t total = 0;  // files the scan found to work on (known once scanning is over)
  IndexingCounts counts;
  double seconds = 0;  // since the run started
};
using ProgressCallback = std::function<void(const IndexingProgress&)>;

struct OfflineRoot {
  std::string root;
  std::string reason;       // why it cannot be scanned (missing, not a folder, ...)
  uint64_t known_files = 0;  // catalogue files under it, kept
};

struct IndexingSummary {
  IndexingCounts counts;
  double seconds = 0;
  bool stopped = false;  // `stop` was set: the work was cut short, what was done is committed
  std::vector<OfflineRoot> offline_roots;
  std::vector<std::string> unlisted_folders;  // their files were neither indexed nor removed
  double images_per_second() const { return seconds > 0 ? static_cast<double>(counts.embedded) / seconds : 0; }
};

// Where results go: the writer catalogue, the model's id in it, and the
// model's vector index (opened with VectorIndex::open) with its file.
struct IndexingTarget {
  Catalog& catalog;
  ModelId model;
  VectorIndex& index;
  std::filesystem::path index_file;
};

// Runs the three phases. Throws ScanError for an unusable option (an empty
// pattern), StoreError if the catalogue or index cannot be written, and
// whatever the model throws; what was committed before stays committed.
// `on_progress` is called from this thread after each commit and every few
// thousand scanned files; `stop`, when set, ends the run early: the batch
// being gathered is committed, decoded images still queued are dropped (the
// next run redoes them), and nothing is removed.
IndexingSummary run_indexing(const IndexingTarget& target, ClipModel& model, const PreprocessOptions& preprocess,
                             const IndexingOptions& options, const ProgressCallback& on_progress = {},
                             const std::atomic<bool>* stop = nullptr);

// Before a run: a root that cannot be scanned is an error when nothing was
// ever indexed under it (a typo; throws NotFound naming it); one with indexed
// files is an offline drive, which run_indexing skips with a warning.
void check_roots(const std::vector<std::filesystem::path>& roots, const Catalog& catalog);

}  // namespace imgsearchd
