// Change runs (what a watcher hands the pipeline) and runs without a model,
// on real photos, real SQLite and a real FAISS index file, with the counting
// stand-in model: each change touches only what it names, with the very
// candidate rules of a full scan; renames and folder renames read no file;
// without a model files are catalogued and hashed, and embedded by the first
// run that has one; what was committed survives reopening.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pipeline_fixture.h"

namespace imgsearchd {
namespace {

class PipelineChangesTest : public PipelineTest {
 protected:
  static std::vector<std::string> strings(std::initializer_list<fs::path> paths) {
    std::vector<std::string> out;
    for (const fs::path& path : paths) out.push_back(path.string());
    return out;
  }
  static ChangedPaths files(std::initializer_list<fs::path> paths) { return ChangedPaths{strings(paths), {}}; }
  static ChangedPaths folders(std::initializer_list<fs::path> paths) { return ChangedPaths{{}, strings(paths)}; }

  size_t count_under(const fs::path& folder) { return reader().paths_under(folder.string()).size(); }

  // A full run after change runs finds nothing to do: the change runs left
  // the catalogue exactly as a full scan would have.
  void expect_full_run_agrees(FakeClipModel& model, std::vector<fs::path> roots = {}) {
    const size_t before = model.images_embedded();
    const IndexingSummary full = index(model, roots);
    EXPECT_EQ(full.counts.hashed, 0u) << "a full run had files to read";
    EXPECT_EQ(full.counts.removed, 0u) << "a full run had paths to remove";
    EXPECT_EQ(full.counts.unchanged, full.counts.scanned);
    EXPECT_EQ(model.images_embedded(), before);
  }
};

TEST_F(PipelineChangesTest, ANewFileIsIndexedAndNothingElseIsLookedAt) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 4);
  FakeClipModel model;
  index(model);
  const VectorId untouched = *id_of(photos[0]);
  test::append_bytes(photos[0]);  // changed, but not reported: a change run does not look at it

  const fs::path added = test::copy_photos(photos_, 1, 10)[0];
  const IndexingSummary run = index_changes(model, files({added}));
  EXPECT_EQ(run.counts.scanned, 1u);
  EXPECT_EQ(run.counts.hashed, 1u);
  EXPECT_EQ(run.counts.embedded, 1u);
  EXPECT_EQ(model.images_embedded(), 5u);
  EXPECT_TRUE(index_holds(model, *id_of(added)));
  EXPECT_EQ(id_of(photos[0]), untouched);

  // Reported again unchanged (twice, and inside its folder too): looked at once, not read.
  const IndexingSummary again = index_changes(model, ChangedPaths{strings({added, added}), strings({photos_})});
  EXPECT_EQ(again.counts.scanned, 5u);
  EXPECT_EQ(again.counts.unchanged, 4u);
  EXPECT_EQ(again.counts.hashed, 1u) << "the modified photo-00, found by the scan of the folder";
}

TEST_F(PipelineChangesTest, AModifiedFileIsEmbeddedOnceAndItsOldContentLeaves) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 3);
  FakeClipModel model;
  index(model);
  const VectorId before = *id_of(photos[1]);

  test::append_bytes(photos[1]);
  const IndexingSummary run = index_changes(model, files({photos[1]}));
  EXPECT_EQ(run.counts.hashed, 1u);
  EXPECT_EQ(run.counts.embedded, 1u);
  const VectorId after = *id_of(photos[1]);
  EXPECT_NE(after, before);
  EXPECT_TRUE(index_holds(model, after));
  EXPECT_FALSE(index_holds(model, before));
  EXPECT_EQ(model.images_embedded(), 4u);
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, ADeletedFileLeavesTheCatalogueAndTheIndex) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 3);
  FakeClipModel model;
  index(model);
  const VectorId gone = *id_of(photos[2]);

  fs::remove(photos[2]);
  const IndexingSummary run = index_changes(model, files({photos[2]}));
  EXPECT_EQ(run.counts.removed, 1u);
  EXPECT_EQ(run.counts.scanned, 0u);
  EXPECT_FALSE(id_of(photos[2]));
  EXPECT_FALSE(index_holds(model, gone));
  EXPECT_EQ(reader().counts().files_ok, 2u);
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, ARenameReadsNoFileAndCallsNoModel) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 3);
  FakeClipModel model;
  index(model);
  const VectorId id = *id_of(photos[0]);

  const fs::path renamed = photos_ / "renamed.jpg";
  fs::rename(photos[0], renamed);
  const IndexingSummary run = index_changes(model, files({photos[0], renamed}));
  EXPECT_EQ(run.counts.hashed, 0u) << "the new path takes the old one's content without a read";
  EXPECT_EQ(run.counts.reattached, 1u);
  EXPECT_EQ(run.counts.attached, 1u);
  EXPECT_EQ(run.counts.removed, 1u);
  EXPECT_EQ(id_of(renamed), id);
  EXPECT_FALSE(id_of(photos[0]));
  EXPECT_TRUE(index_holds(model, id));

  // The new path reported first, the old one in a later change set.
  const fs::path again = photos_ / "renamed-again.jpg";
  fs::rename(renamed, again);
  EXPECT_EQ(index_changes(model, files({again})).counts.hashed, 0u);
  EXPECT_EQ(index_changes(model, files({renamed})).counts.removed, 1u);
  EXPECT_EQ(reader().paths_of(id), std::vector<std::string>{again.string()});
  EXPECT_EQ(model.images_embedded(), 3u);
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, ARenameOverAnotherFileTakesItsPlace) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 3);
  FakeClipModel model;
  index(model);
  const VectorId moved = *id_of(photos[0]), replaced = *id_of(photos[1]);

  fs::rename(photos[0], photos[1]);  // mv photo-00.jpg photo-01.jpg
  const IndexingSummary run = index_changes(model, files({photos[0], photos[1]}));
  EXPECT_EQ(run.counts.hashed, 0u);
  EXPECT_EQ(id_of(photos[1]), moved);
  EXPECT_FALSE(id_of(photos[0]));
  EXPECT_FALSE(index_holds(model, replaced)) << "the overwritten content has no path left";
  EXPECT_EQ(model.images_embedded(), 3u);
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, AMoveBetweenRootsReadsNoFile) {
  const fs::path left = dir_ / "left", right = dir_ / "right";
  const std::vector<fs::path> photos = test::copy_photos(left, 2);
  test::copy_photos(right, 1, 5);
  FakeClipModel model;
  index(model, {left, right});

  const fs::path moved = right / "from-left.jpg";
  fs::rename(photos[0], moved);
  const IndexingSummary run = index_changes(model, files({photos[0], moved}), {left, right});
  EXPECT_EQ(run.counts.hashed, 0u);
  EXPECT_EQ(run.counts.reattached, 1u);
  EXPECT_EQ(run.counts.removed, 1u);
  EXPECT_EQ(count_under(left), 1u);
  EXPECT_EQ(count_under(right), 2u);
  EXPECT_EQ(model.images_embedded(), 3u);
  expect_full_run_agrees(model, {left, right});
}

TEST_F(PipelineChangesTest, AFolderRenameReadsNoFileAndCallsNoModel) {
  const fs::path album = photos_ / "album";
  test::copy_photos(album / "2024" / "summer", 24);
  test::copy_photos(album, 16, 30);
  fs::copy_file(test::kSharedData / "pillow" / "truncated_jpeg.jpg", album / "broken.jpg");
  FakeClipModel model;
  index(model);
  ASSERT_EQ(model.images_embedded(), 40u);
  ASSERT_EQ(reader().failed_files().size(), 1u);
  const std::vector<VectorId> ids = [&] {
    std::vector<VectorId> out;
    for (const std::string& path : reader().paths_under(album.string())) {
      if (const auto id = reader().vector_id_of(path)) out.push_back(*id);
    }
    return out;
  }();

  const fs::path renamed = photos_ / "album (2024)";
  fs::rename(album, renamed);
  const IndexingSummary run = index_changes(model, folders({album, renamed}));
  EXPECT_EQ(run.counts.scanned, 41u);
  EXPECT_EQ(run.counts.hashed, 0u) << "a folder rename reads no file";
  EXPECT_EQ(run.counts.reattached, 41u);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.failed, 1u) << "the broken file keeps its failure";
  EXPECT_EQ(run.counts.removed, 41u);
  EXPECT_EQ(model.images_embedded(), 40u) << "and calls no model";
  EXPECT_EQ(count_under(album), 0u);
  EXPECT_EQ(count_under(renamed), 41u);
  const std::vector<FailedFile> failed = reader().failed_files();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].path, (renamed / "broken.jpg").string());
  EXPECT_NE(failed[0].reason.find(failed[0].path), std::string::npos) << "names the new path: " << failed[0].reason;
  EXPECT_EQ(failed[0].reason.find(album.string() + "/"), std::string::npos) << "not the old one: " << failed[0].reason;
  std::vector<VectorId> after;
  for (const std::string& path : reader().paths_under(renamed.string())) {
    if (path == failed[0].path) continue;
    after.push_back(*reader().vector_id_of(path));
    EXPECT_TRUE(index_holds(model, after.back())) << path;
  }
  EXPECT_EQ(after, ids) << "each file keeps its content (both listings are in name order)";
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, ACaseOnlyRenameReadsNoFile) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 2);
  FakeClipModel model;
  index(model);
  const VectorId id = *id_of(photos[0]);

  const fs::path upper = photos_ / "PHOTO-00.JPG";
  fs::rename(photos[0], upper);
  const IndexingSummary run = index_changes(model, files({photos[0], upper}));
  EXPECT_EQ(run.counts.hashed, 0u);
  EXPECT_EQ(run.counts.reattached, 1u);
  EXPECT_EQ(id_of(upper), id);
  EXPECT_EQ(reader().paths_of(id), std::vector<std::string>{upper.string()}) << "one path, no twin";
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, ANewNestedFolderIsScannedWhole) {
  test::copy_photos(photos_, 2);
  FakeClipModel model;
  index(model);

  const fs::path trip = photos_ / "trip";
  test::copy_photos(trip / "day-1" / "morning", 3, 10);
  test::copy_photos(trip / "day-2", 2, 20);
  IndexingSummary run = index_changes(model, folders({trip}));
  EXPECT_EQ(run.counts.scanned, 5u);
  EXPECT_EQ(run.counts.embedded, 5u);
  EXPECT_EQ(count_under(trip), 5u);

  // A folder reported as a file path (a watcher that only saw a name) is scanned too.
  const fs::path more = photos_ / "more";
  test::copy_photos(more / "inner", 2, 30);
  run = index_changes(model, files({more}));
  EXPECT_EQ(run.counts.embedded, 2u);
  EXPECT_EQ(model.images_embedded(), 9u);
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, AFolderDeletedLeavesWithEverythingBelowIt) {
  test::copy_photos(photos_ / "old" / "deep", 3);
  test::copy_photos(photos_ / "older", 2, 3);
  test::copy_photos(photos_, 1, 5);
  FakeClipModel model;
  index(model);

  fs::remove_all(photos_ / "old");
  fs::remove_all(photos_ / "older");
  IndexingSummary run = index_changes(model, folders({photos_ / "old"}));
  EXPECT_EQ(run.counts.removed, 3u);
  // Reported by its path alone, as a file.
  run = index_changes(model, files({photos_ / "older"}));
  EXPECT_EQ(run.counts.removed, 2u);
  EXPECT_EQ(reader().counts().files_ok, 1u);
  EXPECT_EQ(reader().live_count(id_for(model)), 1u);
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, PathsOutsideTheRootsAreIgnored) {
  test::copy_photos(photos_, 1);
  const std::vector<fs::path> outside = test::copy_photos(dir_ / "elsewhere", 2, 3);
  // Same prefix as the root, but not below it.
  const std::vector<fs::path> sibling = test::copy_photos(dir_ / "photos-2", 1, 6);
  FakeClipModel model;
  const IndexingSummary run =
      index_changes(model, ChangedPaths{strings({outside[0], sibling[0]}), strings({dir_ / "elsewhere"})});
  EXPECT_EQ(run.counts.ignored, 3u);
  EXPECT_EQ(run.counts.scanned, 0u);
  EXPECT_EQ(model.images_embedded(), 0u);
  EXPECT_EQ(reader().counts().files_ok, 0u);
}

TEST_F(PipelineChangesTest, TheScansCandidateRulesApplyRelativeToTheRoot) {
  exclude_ = {"raw/*.jpg", "Private"};
  const std::vector<fs::path> photos = test::copy_photos(photos_, 2);
  FakeClipModel model;
  index(model);

  const fs::path raw = test::copy_photos(photos_ / "raw", 1, 10)[0];              // excluded: raw/ at the root
  const fs::path nested_raw = test::copy_photos(photos_ / "x" / "raw", 1, 11)[0];  // indexed: not at the root
  const fs::path in_private = test::copy_photos(photos_ / "a" / "Private", 1, 12)[0];  // excluded at any depth
  const fs::path hidden = photos_ / ".hidden.jpg";
  fs::copy_file(test::coco_photos()[13], hidden);
  const fs::path clutter = photos_ / "@eaDir" / "thumb.jpg";
  fs::create_directories(clutter.parent_path());
  fs::copy_file(test::coco_photos()[14], clutter);
  const fs::path text = photos_ / "notes.txt";
  test::write_text(text, "not an image");

  const IndexingSummary run = index_changes(
      model, ChangedPaths{strings({raw, nested_raw, in_private, hidden, clutter, text}), strings({photos_ / "a"})});
  EXPECT_EQ(run.counts.scanned, 1u);
  EXPECT_EQ(run.counts.embedded, 1u);
  EXPECT_TRUE(id_of(nested_raw));
  for (const fs::path& skipped : {raw, in_private, hidden, clutter, text}) EXPECT_FALSE(id_of(skipped)) << skipped;

  // A known file renamed so that it is no longer a candidate leaves.
  const fs::path as_text = photos_ / "photo-00.txt";
  fs::rename(photos[0], as_text);
  const IndexingSummary renamed = index_changes(model, files({photos[0], as_text}));
  EXPECT_EQ(renamed.counts.removed, 1u);
  EXPECT_EQ(renamed.counts.scanned, 0u);
  EXPECT_FALSE(id_of(as_text));
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, ChangesBelowAnOfflineRootAreIgnoredAndItsFilesKept) {
  const fs::path drive = dir_ / "drive";
  const std::vector<fs::path> photos = test::copy_photos(drive, 2);
  FakeClipModel model;
  index(model, {photos_, drive});

  fs::rename(drive, dir_ / "drive-unmounted");
  const IndexingSummary run = index_changes(model, files({photos[0]}), {photos_, drive});
  ASSERT_EQ(run.offline_roots.size(), 1u);
  EXPECT_EQ(run.offline_roots[0].root, drive.string());
  EXPECT_EQ(run.counts.removed, 0u);
  EXPECT_EQ(count_under(drive), 2u);
}

// ---- No model yet ----

TEST_F(PipelineChangesTest, WithoutAModelFilesAreCataloguedAndHashedThenEmbeddedByTheFirstRunWithOne) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 5);
  IndexingSummary run = index_without_model();
  EXPECT_EQ(run.counts.scanned, 5u);
  EXPECT_EQ(run.counts.hashed, 5u);
  EXPECT_EQ(run.counts.catalogued, 5u);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(reader().counts().files_ok, 5u);
  EXPECT_EQ(reader().counts().contents, 5u);
  EXPECT_TRUE(reader().models().empty()) << "no model was registered";
  for (const auto& entry : fs::directory_iterator(data_)) {
    EXPECT_NE(entry.path().extension(), ".faiss") << "no vector index without a model";
  }

  // Settled for hash-only runs: an unchanged tree is not read again.
  run = index_without_model();
  EXPECT_EQ(run.counts.unchanged, 5u);
  EXPECT_EQ(run.counts.hashed, 0u);

  // Without a model, change runs catalogue new files and follow renames too.
  const fs::path added = test::copy_photos(photos_, 1, 10)[0];
  const fs::path renamed = photos_ / "renamed.jpg";
  fs::rename(photos[0], renamed);
  run = index_changes_without_model(files({added, photos[0], renamed}));
  EXPECT_EQ(run.counts.hashed, 1u);
  EXPECT_EQ(run.counts.reattached, 1u);
  EXPECT_EQ(run.counts.catalogued, 2u);
  EXPECT_EQ(run.counts.removed, 1u);

  // The model arrives: every file is embedded once, none is hashed again.
  FakeClipModel model;
  run = index(model);
  EXPECT_EQ(run.counts.embedded, 6u);
  EXPECT_EQ(run.counts.hashed, 0u) << "their contents are known: only decoded";
  EXPECT_EQ(run.counts.unchanged, 0u);
  EXPECT_EQ(model.images_embedded(), 6u);
  EXPECT_EQ(reader().live_count(id_for(model)), 6u);
  run = index(model);
  EXPECT_EQ(run.counts.unchanged, 6u);
  EXPECT_EQ(model.images_embedded(), 6u);

  // Files indexed with a model stay settled for a run without one.
  run = index_without_model();
  EXPECT_EQ(run.counts.unchanged, 6u);
  EXPECT_EQ(run.counts.hashed, 0u);
}

TEST_F(PipelineChangesTest, ATargetThatDoesNotFitTheModelIsRefusedBeforeAnythingIsDone) {
  test::copy_photos(photos_, 1);
  FakeClipModel model;
  Catalog catalog = Catalog::open(catalog_file());
  const ModelId id = model_id(catalog, model);
  const IndexingOptions options = options_for({});
  EXPECT_THROW(run_indexing(IndexingTarget{catalog, id}, &model, model.preprocess(), options), InvalidInput)
      << "a model without its vector store";
  VectorIndex other(id + 1, FakeClipModel::kDim);
  EXPECT_THROW(run_indexing(IndexingTarget{catalog, id, &other}, &model, model.preprocess(), options),
               InvalidInput)
      << "the store of another model";
  VectorIndex store(id, FakeClipModel::kDim);
  EXPECT_THROW(run_indexing(IndexingTarget{catalog, id, &store}, nullptr, {}, options), InvalidInput)
      << "no model, but a model's target";
  EXPECT_EQ(catalog.generation(), 0u) << "nothing was committed";
  EXPECT_EQ(model.images_embedded(), 0u);
}

// ---- Restarts: reopen the catalogue and check what survived ----

TEST_F(PipelineChangesTest, AfterARestartTheCatalogueAndIndexHoldWhatTheChangeRunsCommitted) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 4);
  FakeClipModel model;
  index(model);
  const VectorId renamed_id = *id_of(photos[0]), deleted_id = *id_of(photos[1]);
  const fs::path renamed = photos_ / "sub" / "renamed.jpg";
  fs::create_directories(renamed.parent_path());
  fs::rename(photos[0], renamed);
  fs::remove(photos[1]);
  const fs::path added = test::copy_photos(photos_, 1, 10)[0];
  index_changes(model, ChangedPaths{strings({photos[0], photos[1], added}), strings({photos_ / "sub"})});
  // Every Catalog and VectorIndex of that run is closed now.

  Catalog catalog = Catalog::open(catalog_file());
  const ModelId id = model_id(catalog, model);
  EXPECT_EQ(catalog.vector_id_of(renamed.string()), renamed_id);
  EXPECT_FALSE(catalog.vector_id_of(photos[0].string()));
  EXPECT_FALSE(catalog.vector_id_of(photos[1].string()));
  EXPECT_TRUE(catalog.vector_id_of(added.string()));
  EXPECT_EQ(catalog.counts().files_ok, 4u);
  EXPECT_TRUE(catalog.embedding(deleted_id, id)) << "a deleted content's embedding stays cached";
  OpenedIndex opened = VectorIndex::open(index_file(id), catalog, id);
  EXPECT_FALSE(opened.rebuilt) << "the change run checkpointed its index: " << opened.reason;
  EXPECT_EQ(opened.index.size(), 4u);
  EXPECT_TRUE(opened.index.contains(renamed_id));
  EXPECT_FALSE(opened.index.contains(deleted_id));
  expect_full_run_agrees(model);
}

TEST_F(PipelineChangesTest, AfterARestartHashOnlyRecordsAreKeptAndEmbeddedOnce) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 3);
  index_without_model();

  {
    const Catalog catalog = Catalog::open(catalog_file());
    for (const fs::path& photo : photos) {
      const std::optional<FileRecord> record = catalog.file(photo.string());
      ASSERT_TRUE(record) << photo;
      EXPECT_EQ(record->state, FileState::ok);
      EXPECT_TRUE(record->hash) << "the content was recorded";
    }
    EXPECT_EQ(catalog.counts().embeddings.size(), 0u);
  }

  FakeClipModel model;
  const IndexingSummary run = index(model);
  EXPECT_EQ(run.counts.embedded, 3u);
  EXPECT_EQ(run.counts.hashed, 0u);
  EXPECT_EQ(model.images_embedded(), 3u);
  expect_full_run_agrees(model);
}

}  // namespace
}  // namespace imgsearchd
