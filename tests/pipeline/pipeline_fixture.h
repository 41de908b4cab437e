// The fixture of the pipeline tests: a fresh folder with data/ and photos/,
// indexing runs as `imgsearchd index` and the service do them (open, run,
// close), and checks that the catalogue and the saved index file agree.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "fake_clip_model.h"
#include "indexer/image/image_loader.h"
#include "indexer/pipeline/indexing_pipeline.h"
#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"
#include "tests/support/files.h"
#include "tests/support/photos.h"
#include "tests/support/scratch.h"

namespace imgsearchd {

using test::FakeClipModel;
namespace fs = std::filesystem;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    init_image_library("pipeline_test");
    dir_ = test::fresh_dir("pipeline");
    data_ = dir_ / "data";
    photos_ = dir_ / "photos";
    fs::create_directories(data_);
    fs::create_directories(photos_);
  }

  fs::path catalog_file() const { return data_ / "catalog.db"; }
  fs::path index_file(ModelId model) const { return data_ / ("index-" + std::to_string(model) + ".faiss"); }

  ModelId model_id(Catalog& catalog, const FakeClipModel& model) {
    return catalog.model("fake", model.info().fingerprint, model.info().embed_dim);
  }

  IndexingOptions options_for(std::vector<fs::path> roots) const {
    if (roots.empty()) roots = {photos_};
    IndexingOptions options;
    options.scan.roots = roots;
    options.scan.include = include_;
    options.scan.exclude = exclude_;
    options.decode_memory_bytes = decode_memory_bytes_;
    options.decode_niceness = decode_niceness_;
    options.decode_threads = 3;
    options.batch_size = 4;
    options.queue_size = 5;
    options.save_every_batches = 2;
    return options;
  }

  // One indexing run, as `imgsearchd index` does it: open, run, close.
  IndexingSummary index(FakeClipModel& model, std::vector<fs::path> roots = {},
                        const ProgressCallback& on_progress = {}, const std::atomic<bool>* stop = nullptr) {
    return run(&model, nullptr, roots, on_progress, stop);
  }

  // One change run, as the service does it for what its watcher saw.
  IndexingSummary index_changes(FakeClipModel& model, const ChangedPaths& changes, std::vector<fs::path> roots = {}) {
    return run(&model, &changes, roots);
  }

  // The same runs before any model is installed: catalogue and hash only.
  IndexingSummary index_without_model(std::vector<fs::path> roots = {}) { return run(nullptr, nullptr, roots); }
  IndexingSummary index_changes_without_model(const ChangedPaths& changes, std::vector<fs::path> roots = {}) {
    return run(nullptr, &changes, roots);
  }

  // `model` null: no model; `changes` null: a full run.
  IndexingSummary run(FakeClipModel* model, const ChangedPaths* changes, const std::vector<fs::path>& roots,
                      const ProgressCallback& on_progress = {}, const std::atomic<bool>* stop = nullptr) {
    const IndexingOptions options = options_for(roots);
    Catalog catalog = Catalog::open(catalog_file());
    IndexingSummary summary;
    if (model == nullptr) {
      IndexingTarget target{catalog};
      summary = changes ? run_indexing_changes(target, nullptr, {}, options, *changes, on_progress, stop)
                        : run_indexing(target, nullptr, {}, options, on_progress, stop);
    } else {
      const ModelId id = model_id(catalog, *model);
      OpenedIndex opened = VectorIndex::open(index_file(id), catalog, id);
      IndexingTarget target{catalog, id, &opened.index};
      summary = changes ? run_indexing_changes(target, model, model->preprocess(), options, *changes, on_progress, stop)
                        : run_indexing(target, model, model->preprocess(), options, on_progress, stop);
    }
    if (model != nullptr) expect_consistent(*model);
    return summary;
  }

  // After a run: every ok file's content is embedded, the saved index file
  // is current and holds exactly the live contents, once each.
  void expect_consistent(const FakeClipModel& model) {
    Catalog catalog = Catalog::open(catalog_file());
    const ModelId id = model_id(catalog, model);
    for (const auto& [path, known] : catalog.known_files(id)) {
      if (known.state == FileState::ok) {
        EXPECT_TRUE(known.has_embedding) << path;
      }
    }
    OpenedIndex opened = VectorIndex::open(index_file(id), catalog, id);
    EXPECT_FALSE(opened.rebuilt) << "the run left a stale index file: " << opened.reason;
    const std::vector<VectorId> ids = opened.index.ids();
    EXPECT_EQ(ids, VectorIndex::rebuild(catalog, id).ids());
    EXPECT_EQ(opened.index.size(), catalog.live_count(id));
    EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "an id twice";
  }

  ModelId id_for(const FakeClipModel& model) {
    Catalog catalog = Catalog::open(catalog_file());
    return model_id(catalog, model);
  }

  Catalog reader() { return Catalog::open_read_only(catalog_file()); }

  std::optional<VectorId> id_of(const fs::path& file) { return reader().vector_id_of(file.string()); }

  bool index_holds(const FakeClipModel& model, VectorId id) {
    Catalog catalog = Catalog::open(catalog_file());
    const ModelId model_id_value = model_id(catalog, model);
    return VectorIndex::open(index_file(model_id_value), catalog, model_id_value).index.contains(id);
  }

  fs::path dir_, data_, photos_;
  std::vector<std::string> include_, exclude_;  // the scan's patterns for every run
  uint64_t decode_memory_bytes_ = IndexingOptions{}.decode_memory_bytes;
  int decode_niceness_ = 0;
};

}  // namespace imgsearchd
