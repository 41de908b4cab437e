// Internal to the indexing pipeline: gathers WorkItems into batches, runs the
// model on a batch's images, commits each batch in one catalogue transaction
// and applies it to the vector index. Runs on one thread: the one that owns
// the writer catalogue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "indexer/pipeline/indexing_pipeline.h"
#include "indexer/pipeline/indexing_work.h"

namespace imgsearchd::indexing {

class Batcher {
 public:
  // `counts` and `done` are updated after each commit, then `on_commit` is called.
  // `claims` are the workers' (see ContentClaims): a commit releases those
  // of the contents it embedded.
  // `model` is null for no model (items are then only recorded, never embedded).
  // Images come as 8-bit crops, normalised with `preprocess` into the batch.
  Batcher(const IndexingTarget& target, ClipModel* model, const IndexingOptions& options,
          const PreprocessOptions& preprocess, ContentClaims& claims, IndexingCounts& counts, uint64_t& done,
          std::function<void()> on_commit);

  // Takes one item; commits when a batch is full.
  void add(WorkItem item);
  // A path to delete from the catalogue (phase 3); counted as removed.
  void remove_path(const std::string& path);
  // Commits everything pending, including attaches that waited for content
  // committed by the last batch.
  void finish();
  // Checkpoints the vector store if it changed since the last checkpoint.
  void save_index();

 private:
  void add_failed(const std::string& path, const StatSignature& signature, const std::string& reason);
  void release_waiting(const ContentHash& hash);
  bool batch_full() const;
  bool pending() const;
  void commit();

  const IndexingTarget& target_;
  ClipModel* model_;
  const IndexingOptions& options_;
  const PreprocessOptions preprocess_;
  ContentClaims& claims_;
  IndexingCounts& counts_;
  uint64_t& done_;
  std::function<void()> on_commit_;

  // The batch being gathered.
  std::vector<float> pixels_;  // the images, back to back
  std::vector<WorkItem> embeds_;
  std::vector<IndexedFile> attaches_;
  size_t records_ = 0;  // how many of attaches_ are records (no model), not attaches
  std::vector<FailedFile> failed_;
  std::vector<std::string> deleted_;
  uint64_t settled_ = 0;  // items finished without a catalogue row (vanished unknown, deferred)

  // Claimed contents that could not be decoded, with the reason (their
  // copies fail the same way); attach_after items whose content is still on
  // its way. Both are small: they hold only duplicates and failures.
  std::unordered_map<ContentHash, std::string, ContentHashHasher> failed_claims_;
  std::unordered_map<ContentHash, std::vector<WorkItem>, ContentHashHasher> waiting_;
  size_t commits_since_save_ = 0;
};

}  // namespace imgsearchd::indexing
