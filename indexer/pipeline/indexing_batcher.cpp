#include "indexer/pipeline/indexing_batcher.h"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <utility>

#include "indexer/model/clip_model.h"
#include "store/core/errors.h"

namespace imgsearchd::indexing {

Batcher::Batcher(const IndexingTarget& target, ClipModel* model, const IndexingOptions& options,
                 const PreprocessOptions& preprocess, ContentClaims& claims, IndexingCounts& counts, uint64_t& done,
                 std::function<void()> on_commit)
    : target_(target),
      model_(model),
      options_(options),
      preprocess_(preprocess),
      claims_(claims),
      counts_(counts),
      done_(done),
      on_commit_(std::move(on_commit)) {}

void Batcher::add(WorkItem item) {
  switch (item.kind) {
    case WorkItem::Kind::embed: {
      const int size = preprocess_.resolution;
      const size_t floats = 3 * static_cast<size_t>(size) * size;
      IMGSEARCHD_CHECK(item.crop.size() == floats, "a decoded crop of " + item.path + " has " +
                                                       std::to_string(item.crop.size()) + " bytes, expected " +
                                                       std::to_string(floats));
      if (pixels_.empty()) pixels_.reserve(floats * options_.batch_size);
      pixels_.resize(pixels_.size() + floats);
      normalise_crop(item.crop.data(), size, preprocess_, pixels_.data() + pixels_.size() - floats);
      item.crop = {};
      embeds_.push_back(std::move(item));
      break;
    }
    case WorkItem::Kind::attach:
      attaches_.push_back(IndexedFile{std::move(item.path), item.signature, item.hash, {}});
      break;
    case WorkItem::Kind::record:
      attaches_.push_back(IndexedFile{std::move(item.path), item.signature, item.hash, {}});
      ++records_;
      break;
    case WorkItem::Kind::attach_after: {
      const auto failed = failed_claims_.find(item.hash);
      if (failed != failed_claims_.end()) {
        add_failed(item.path, item.signature, failed->second);
      } else if (const auto content = target_.catalog.find_content(item.hash, target_.model);
                 content && content->has_embedding) {
        attaches_.push_back(IndexedFile{std::move(item.path), item.signature, item.hash, {}});
      } else {
        waiting_[item.hash].push_back(std::move(item));  // its content is still on its way
      }
      break;
    }
    case WorkItem::Kind::failed:
      add_failed(item.path, item.signature, item.reason);
      if (item.claimed) {
        failed_claims_[item.hash] = item.reason;
        release_waiting(item.hash);
      }
      break;
    case WorkItem::Kind::vanished:
      if (item.known) {
        deleted_.push_back(std::move(item.path));
      } else {
        ++settled_;
      }
      break;
    case WorkItem::Kind::deferred:
      spdlog::info("{} changed while it was being read; it is indexed on the next run", item.path);
      ++counts_.deferred;
      ++settled_;
      break;
  }
  if (batch_full()) commit();
}

void Batcher::remove_path(const std::string& path) {
  deleted_.push_back(path);
  if (batch_full()) commit();
}

void Batcher::finish() {
  // A commit can release attaches that waited for it, so go on until nothing is left.
  while (pending()) commit();
  if (!waiting_.empty()) {
    // Every claimed content ends as an embed or a failure, which releases its
    // waiters; anything left means a worker stopped early (a stop request).
    size_t left = 0;
    for (const auto& [hash, items] : waiting_) left += items.size();
    spdlog::info("{} files identical to content not indexed yet are left for the next run", left);
  }
}

void Batcher::save_index() {
  if (commits_since_save_ == 0 || target_.store == nullptr) return;
  target_.store->checkpoint();
  commits_since_save_ = 0;
}

void Batcher::add_failed(const std::string& path, const StatSignature& signature, const std::string& reason) {
  failed_.push_back(FailedFile{path, signature, reason});
}

void Batcher::release_waiting(const ContentHash& hash) {
  const auto waiting = waiting_.find(hash);
  if (waiting == waiting_.end()) return;
  std::vector<WorkItem> items = std::move(waiting->second);
  waiting_.erase(waiting);
  for (WorkItem& item : items) add(std::move(item));  // the outcome is known now: committed or failed
}

bool Batcher::batch_full() const {
  return embeds_.size() >= options_.batch_size ||
         attaches_.size() + failed_.size() + deleted_.size() >= options_.max_files_per_commit;
}

bool Batcher::pending() const {
  return !embeds_.empty() || !attaches_.empty() || !failed_.empty() || !deleted_.empty() || settled_ > 0;
}

void Batcher::commit() {
  if (embeds_.empty() && attaches_.empty() && failed_.empty() && deleted_.empty()) {
    done_ += settled_;  // nothing for the catalogue: no empty transaction
    settled_ = 0;
    return;
  }
  Batch batch;
  batch.model = target_.model;
  batch.indexed.reserve(embeds_.size() + attaches_.size());
  if (!embeds_.empty()) {
    IMGSEARCHD_CHECK(model_ != nullptr && target_.store != nullptr, "an image to embed in a run without a model");
    const std::vector<float> vectors = model_->encode_images(pixels_.data(), embeds_.size());
    const size_t dim = static_cast<size_t>(target_.store->dim());
    if (vectors.size() != embeds_.size() * dim) {
      throw ModelError("the model returned " + std::to_string(vectors.size()) + " values for " +
                               std::to_string(embeds_.size()) + " images, expected " + std::to_string(dim) +
                               " per image");
    }
    for (size_t i = 0; i < embeds_.size(); ++i) {
      const float* vector = vectors.data() + i * dim;
      batch.indexed.push_back(
          IndexedFile{embeds_[i].path, embeds_[i].signature, embeds_[i].hash, std::vector<float>(vector, vector + dim)});
    }
  }
  for (IndexedFile& file : attaches_) batch.indexed.push_back(std::move(file));
  batch.failed = std::move(failed_);
  batch.deleted = std::move(deleted_);

  const CommitResult result = target_.catalog.commit(batch);
  // apply_commit: also what other services sharing the catalogue committed.
  if (target_.store != nullptr) target_.catalog.apply_commit(*target_.store, result);

  counts_.embedded += embeds_.size();
  counts_.attached += attaches_.size() - records_;
  counts_.catalogued += records_;
  counts_.failed += batch.failed.size() + result.refused.size();
  counts_.removed += batch.deleted.size();
  spdlog::debug("committed generation {}: {} embedded, {} attached, {} failed, {} removed", result.generation,
                embeds_.size(), attaches_.size(), batch.failed.size(), batch.deleted.size());
  done_ += embeds_.size() + attaches_.size() + batch.failed.size() + batch.deleted.size() + settled_;

  std::vector<WorkItem> embedded = std::move(embeds_);
  embeds_.clear();
  attaches_.clear();
  failed_.clear();
  deleted_.clear();
  pixels_.clear();
  settled_ = 0;
  records_ = 0;

  // These contents are in the catalogue now: later files find them there,
  // and those that waited attach in the next batch.
  for (const WorkItem& item : embedded) {
    claims_.release(item.hash);
    release_waiting(item.hash);
  }

  if (++commits_since_save_ >= options_.save_every_batches) save_index();
  if (on_commit_) on_commit_();
}

}  // namespace imgsearchd::indexing
