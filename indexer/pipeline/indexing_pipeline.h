// The indexing pipeline: makes the catalogue and the vector store of one
// model match the image files under some folders, in one pass, and returns.
// Two ways in, one way through:
//
//  1. plan      what needs work. A full run (run_indexing) scans every root
//               (streaming); a change run (run_indexing_changes) looks only
//               at the paths and folders it is given, with the very same
//               candidate rules. Each file's stat signature is compared with
//               the catalogue: an unchanged file that is embedded for this
//               model, or that failed as it is now, is not read. The rest is
//               the work, so progress has a real total; catalogue paths that
//               are gone (not seen by the scan, deleted, no longer
//               candidates) are to be removed.
//  2. index     `decode_threads` workers take each work file. A new path
//               whose signature (device, inode, size, mtime) is that of a file
//               the catalogue holds (a rename or move, a folder renamed, a
//               case-only rename) takes that file's content (or its failure)
//               without being read. Otherwise it is hashed (XXH3-128): content that already
//               has an embedding for the model only attaches the path
//               (rename, move, copy: no model time); new content is decoded
//               and preprocessed; a bad file becomes a failure with its
//               reason. A bounded queue feeds one batcher, which runs the
//               model on `batch_size` images at a time and commits each batch
//               (attaches and failures ride along) in one catalogue
//               transaction, then applies it to the vector store. Identical
//               new content met twice in a run is embedded once. Before the
//               workers start, the vector store reserves room for every work
//               file (VectorStore::reserve), so its arrays grow once.
//  3. remove    the gone paths are deleted (after phase 2, so a moved file's
//               old path can still lend its content), except below folders
//               the scanner could not list; a root that is missing (an
//               unmounted drive) is offline: its files are kept. Content left
//               without a path leaves the vector store (its embedding stays
//               cached in the catalogue).
//
// No model yet (model == nullptr, target.model == kNoModel): files are
// catalogued and hashed, their contents recorded, nothing is embedded and no
// vector store is touched. They are not settled: a later run with a model
// embeds them (reading each once more, to decode it).
//
// The vector store is checkpointed every `save_every_batches` commits and at
// the end. A crash at any moment loses at most the batch in flight: the next
// run finds the committed files unchanged and does the rest.
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
#include "store/core/vector_store.h"

namespace imgsearchd {

class ClipModel;

struct IndexingOptions {
  ScanOptions scan;                 // the roots and what is a candidate
  int decode_threads = 0;           // hashing and decoding workers; 0 = one per core
  // Memory the decoders may hold at once, by each image's header estimate
  // (decode_budget.h): a large photo waits for earlier decodes to finish
  // instead of decoding beside them. 0 = no limit.
  uint64_t decode_memory_bytes = uint64_t{96} << 20;
  // Niceness added to the decode workers (Linux), so that the model's
  // threads get the cores first. Measured worse on a shared machine (decoding
  // then yields to every other process too; README, Performance), so 0, the
  // caller's priority, is the default; kept for benchmarks.
  int decode_niceness = 0;
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
  uint64_t reattached = 0;       // new paths of files the catalogue holds (renamed, moved): not read
                                 // (also counted as attached, catalogued or failed)
  uint64_t attached = 0;         // path recorded for content already embedded: no model time
  uint64_t catalogued = 0;       // no model: recorded with their content, not embedded
  uint64_t embedded = 0;         // images run through the model
  uint64_t failed = 0;           // recorded as failed this run (corrupt, unreadable, not an image, ...)
  uint64_t removed = 0;          // paths deleted from the catalogue (gone from disk)
  uint64_t skipped_offline = 0;  // catalogue files under offline roots, left as they were
  uint64_t deferred = 0;         // changed while being read: left for the next run
  uint64_t ignored = 0;          // change runs: paths given that lie outside every root
};
// Every count of `run` added to `total` (runs over several root groups).
IndexingCounts& operator+=(IndexingCounts& total, const IndexingCounts& run);

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
// `run` after `total`: counts and seconds add up, lists join, stopped if either stopped.
IndexingSummary& operator+=(IndexingSummary& total, const IndexingSummary& run);

// Where results go: the writer catalogue, the model's id in it, and the
// model's vector store (for FAISS, opened with VectorIndex::open, which
// remembers its file). With no model: kNoModel and no store.
struct IndexingTarget {
  Catalog& catalog;
  ModelId model = kNoModel;
  VectorStore* store = nullptr;
};

// Runs the three phases over every root. `model` is null for no model
// (target.model must then be kNoModel and target.store null). Throws
// ScanError for an unusable option (an empty pattern), StoreError if the
// catalogue or store cannot be written, InvalidInput for a target
// that does not fit the model, and whatever the model throws; what was
// committed before stays committed. `on_progress` is called from this
// thread after each commit and every few thousand scanned files; `stop`,
// when set, ends the run early: the batch being gathered is committed,
// decoded images still queued are dropped (the next run redoes them), and
// nothing is removed.
IndexingSummary run_indexing(const IndexingTarget& target, ClipModel* model, const PreprocessOptions& preprocess,
                             const IndexingOptions& options, const ProgressCallback& on_progress = {},
                             const std::atomic<bool>* stop = nullptr);
IndexingSummary run_indexing(const IndexingTarget& target, ClipModel& model, const PreprocessOptions& preprocess,
                             const IndexingOptions& options, const ProgressCallback& on_progress = {},
                             const std::atomic<bool>* stop = nullptr);

// What a watcher saw change. Absolute paths; order and duplicates do not
// matter. Give a move's old and new paths in the same change set (or the new
// one first): the new path then takes the old one's content without a read.
struct ChangedPaths {
  // Files that may have been created, modified or deleted. One that exists
  // and is a candidate is indexed as in a full run; one that is gone or no
  // longer a candidate leaves the catalogue (with any catalogue paths below
  // it: a folder deleted and reported by its path). A path that is a folder
  // now is taken as one of `folders`.
  std::vector<std::string> files;
  // Folders whose whole subtree is reconciled: scanned as a full run scans
  // it (the root's patterns, relative to the root), and catalogue paths below
  // it that the scan did not see are removed. A root itself may be given.
  std::vector<std::string> folders;

  bool empty() const { return files.empty() && folders.empty(); }
};

// The three phases for what changed only. Paths outside options.scan.roots
// are ignored (counted in `ignored`); changes below an offline root are
// ignored too (the root is listed in offline_roots). Same errors, progress
// and stop as run_indexing; counts.scanned counts the candidates looked at.
IndexingSummary run_indexing_changes(const IndexingTarget& target, ClipModel* model,
                                     const PreprocessOptions& preprocess, const IndexingOptions& options,
                                     const ChangedPaths& changes, const ProgressCallback& on_progress = {},
                                     const std::atomic<bool>* stop = nullptr);

// Before a run: a root that cannot be scanned is an error when nothing was
// ever indexed under it (a typo; throws NotFound naming it); one with indexed
// files is an offline drive, which run_indexing skips with a warning.
void check_roots(const std::vector<std::filesystem::path>& roots, const Catalog& catalog);

}  // namespace imgsearchd
