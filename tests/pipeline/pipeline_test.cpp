// The indexing pipeline on real photos, real SQLite and a real FAISS index
// file, with a stand-in model that counts what it embeds: renames, moves,
// copies and deletions cost no model time, a modified file is embedded once,
// an unchanged tree is not even read, broken files are recorded and retried
// only when they change.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "pipeline_fixture.h"
#include "tests/support/scratch.h"
#include "tests/support/unprivileged.h"

namespace imgsearchd {
namespace {

TEST_F(PipelineTest, FirstRunEmbedsEachPhotoOnceAndAnUnchangedTreeIsNotRead) {
  test::copy_photos(photos_, 6);
  FakeClipModel model;
  const IndexingSummary first = index(model);
  EXPECT_EQ(first.counts.scanned, 6u);
  EXPECT_EQ(first.counts.hashed, 6u);
  EXPECT_EQ(first.counts.embedded, 6u);
  EXPECT_EQ(first.counts.attached, 0u);
  EXPECT_EQ(first.counts.failed, 0u);
  EXPECT_EQ(model.images_embedded(), 6u);
  EXPECT_EQ(reader().counts().files_ok, 6u);

  const IndexingSummary second = index(model);
  EXPECT_EQ(second.counts.scanned, 6u);
  EXPECT_EQ(second.counts.unchanged, 6u);
  EXPECT_EQ(second.counts.hashed, 0u) << "the fast path must not read unchanged files";
  EXPECT_EQ(second.counts.embedded, 0u);
  EXPECT_EQ(model.images_embedded(), 6u);
}

TEST_F(PipelineTest, RenameMoveCopyAndDeleteCostNoModelTime) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 6);
  FakeClipModel model;
  index(model);
  ASSERT_EQ(model.images_embedded(), 6u);

  // Rename.
  const VectorId renamed_id = *id_of(photos[0]);
  fs::rename(photos[0], photos_ / "renamed.jpg");
  IndexingSummary run = index(model);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.attached, 1u);
  EXPECT_EQ(run.counts.removed, 1u);
  EXPECT_EQ(id_of(photos_ / "renamed.jpg"), renamed_id);
  EXPECT_FALSE(id_of(photos[0]));
  EXPECT_TRUE(index_holds(model, renamed_id));

  // Move into a new sub-folder.
  const VectorId moved_id = *id_of(photos[1]);
  fs::create_directories(photos_ / "2024" / "summer");
  fs::rename(photos[1], photos_ / "2024" / "summer" / "beach.jpg");
  run = index(model);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.attached, 1u);
  EXPECT_EQ(run.counts.removed, 1u);
  EXPECT_EQ(id_of(photos_ / "2024" / "summer" / "beach.jpg"), moved_id);

  // Copy: one content, two paths.
  const VectorId copied_id = *id_of(photos[2]);
  fs::copy_file(photos[2], photos_ / "copy.jpg");
  run = index(model);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.attached, 1u);
  EXPECT_EQ(run.counts.removed, 0u);
  EXPECT_EQ(reader().paths_of(copied_id),
            (std::vector<std::string>{(photos_ / "copy.jpg").string(), photos[2].string()}));

  // Delete one of two paths: the content stays searchable.
  fs::remove(photos_ / "copy.jpg");
  run = index(model);
  EXPECT_EQ(run.counts.removed, 1u);
  EXPECT_TRUE(index_holds(model, copied_id));

  // Delete the only path: the content leaves the index.
  const VectorId deleted_id = *id_of(photos[3]);
  fs::remove(photos[3]);
  run = index(model);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.removed, 1u);
  EXPECT_FALSE(id_of(photos[3]));
  EXPECT_FALSE(index_holds(model, deleted_id));
  EXPECT_EQ(reader().live_count(id_for(model)), 5u);

  // It comes back (restored from a backup): its embedding was kept.
  test::copy_photos(photos_, 1, 3);
  run = index(model);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.attached, 1u);
  EXPECT_TRUE(index_holds(model, deleted_id));

  EXPECT_EQ(model.images_embedded(), 6u) << "renames, moves, copies and deletions must cost no model time";
}

TEST_F(PipelineTest, AModifiedFileIsEmbeddedExactlyOnce) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 4);
  FakeClipModel model;
  index(model);
  const VectorId before = *id_of(photos[1]);

  test::append_bytes(photos[1]);
  IndexingSummary run = index(model);
  EXPECT_EQ(run.counts.hashed, 1u);
  EXPECT_EQ(run.counts.embedded, 1u);
  EXPECT_EQ(model.images_embedded(), 5u);
  const VectorId after = *id_of(photos[1]);
  EXPECT_NE(after, before);
  EXPECT_TRUE(index_holds(model, after));
  EXPECT_FALSE(index_holds(model, before)) << "the old content has no path left";

  run = index(model);
  EXPECT_EQ(run.counts.hashed, 0u);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(model.images_embedded(), 5u);
}

TEST_F(PipelineTest, IdenticalNewPhotosInOneRunAreEmbeddedOnce) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 5);
  // Four more copies of photo 0 and two of photo 1, spread over folders.
  fs::create_directories(photos_ / "a");
  fs::create_directories(photos_ / "b");
  for (const char* name : {"a/one.jpg", "a/two.jpg", "b/three.jpg", "b/zz.jpg"}) fs::copy_file(photos[0], photos_ / name);
  for (const char* name : {"a/x.jpg", "b/y.jpg"}) fs::copy_file(photos[1], photos_ / name);

  FakeClipModel model;
  const IndexingSummary run = index(model);
  EXPECT_EQ(run.counts.scanned, 11u);
  EXPECT_EQ(run.counts.embedded, 5u);
  EXPECT_EQ(run.counts.attached, 6u);
  EXPECT_EQ(model.images_embedded(), 5u);
  EXPECT_EQ(reader().paths_of(*id_of(photos[0])).size(), 5u);
  EXPECT_EQ(reader().counts().files_ok, 11u);
}

TEST_F(PipelineTest, IdenticalBrokenFilesInOneRunAllFailWithTheReason) {
  test::copy_photos(photos_, 2);
  for (const char* name : {"bad-1.jpg", "bad-2.jpg", "bad-3.jpg"})
    fs::copy_file(test::kSharedData / "pillow" / "truncated_jpeg.jpg", photos_ / name);
  FakeClipModel model;
  const IndexingSummary run = index(model);
  EXPECT_EQ(run.counts.embedded, 2u);
  EXPECT_EQ(run.counts.failed, 3u);
  const std::vector<FailedFile> failed = reader().failed_files();
  ASSERT_EQ(failed.size(), 3u);
  for (const FailedFile& file : failed) EXPECT_NE(file.reason.find("cannot decode"), std::string::npos) << file.reason;
}

TEST_F(PipelineTest, SwitchingModelsReembedsAndSwitchingBackCostsNothing) {
  test::copy_photos(photos_, 5);
  FakeClipModel first("fingerprint-of-model-a");
  FakeClipModel second("fingerprint-of-model-b");

  EXPECT_EQ(index(first).counts.embedded, 5u);
  IndexingSummary run = index(second);
  EXPECT_EQ(run.counts.embedded, 5u) << "content is embedded once per model";
  EXPECT_EQ(run.counts.unchanged, 0u);
  EXPECT_EQ(second.images_embedded(), 5u);

  run = index(first);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.hashed, 0u);
  EXPECT_EQ(run.counts.unchanged, 5u);
  EXPECT_EQ(first.images_embedded(), 5u);

  // A new photo while on model A, then back to B: only that one is embedded for B.
  test::copy_photos(photos_, 1, 10);
  EXPECT_EQ(index(first).counts.embedded, 1u);
  run = index(second);
  EXPECT_EQ(run.counts.embedded, 1u);
  EXPECT_EQ(run.counts.unchanged, 5u);
  EXPECT_EQ(second.images_embedded(), 6u);
}

TEST_F(PipelineTest, AFolderMovedBetweenRootsCostsNoModelTime) {
  const fs::path left = dir_ / "left", right = dir_ / "right";
  test::copy_photos(left / "album", 3);
  test::copy_photos(right, 2, 3);
  FakeClipModel model;
  EXPECT_EQ(index(model, {left, right}).counts.embedded, 5u);

  fs::rename(left / "album", right / "album");
  const IndexingSummary run = index(model, {left, right});
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.attached, 3u);
  EXPECT_EQ(run.counts.removed, 3u);
  EXPECT_EQ(reader().paths_under(left.string()).size(), 0u);
  EXPECT_EQ(reader().paths_under(right.string()).size(), 5u);
  EXPECT_EQ(model.images_embedded(), 5u);
}

TEST_F(PipelineTest, AMovedFolderIndexedOneRootAtATimeCostsNoModelTime) {
  const fs::path left = dir_ / "left", right = dir_ / "right";
  test::copy_photos(left / "album", 3);
  fs::create_directories(right);
  FakeClipModel model;
  index(model, {left});
  fs::rename(left / "album", right / "album");
  EXPECT_EQ(index(model, {left}).counts.removed, 3u);  // gone from the index, embeddings kept
  const IndexingSummary run = index(model, {right});
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.attached, 3u);
  EXPECT_EQ(model.images_embedded(), 3u);
}

TEST_F(PipelineTest, AFolderRenameReadsNoFileAndCallsNoModel) {
  test::copy_photos(photos_ / "album" / "2023", 20);
  test::copy_photos(photos_ / "album", 20, 40);
  FakeClipModel model;
  index(model);
  ASSERT_EQ(model.images_embedded(), 40u);
  std::vector<VectorId> ids_before;
  for (const std::string& path : reader().paths_under((photos_ / "album").string())) {
    ids_before.push_back(*reader().vector_id_of(path));
  }

  fs::rename(photos_ / "album", photos_ / "Album");  // case-only: another path on a case-sensitive disk
  fs::rename(photos_ / "Album", photos_ / "holidays");
  const IndexingSummary run = index(model);
  EXPECT_EQ(run.counts.hashed, 0u) << "the files keep their device, inode, size and mtime: none is read";
  EXPECT_EQ(run.counts.reattached, 40u);
  EXPECT_EQ(run.counts.embedded, 0u);
  EXPECT_EQ(run.counts.removed, 40u);
  EXPECT_EQ(model.images_embedded(), 40u);
  const std::vector<std::string> after = reader().paths_under((photos_ / "holidays").string());
  ASSERT_EQ(after.size(), 40u);
  EXPECT_EQ(reader().paths_under((photos_ / "album").string()).size(), 0u);
  std::vector<VectorId> ids_after;
  for (const std::string& path : after) ids_after.push_back(*reader().vector_id_of(path));
  EXPECT_EQ(ids_after, ids_before) << "each path keeps its file's content (both listings in name order)";
}

// Pillow refuses these two, but their pixels are intact and libvips decodes
// them: they are indexed like any good image.
const std::set<std::string> kIntactForLibvips = {
    "png_decompression_dos.png",  // Pillow refuses an oversized compressed text chunk; the image is fine
    "truncated_end_chunk.png",    // only the closing IEND chunk is cut; the image data is complete
};

// Files Pillow refuses (but the two above), plus two of our own: a
// zero-byte "photo" and text named like a JPEG.
std::set<std::string> broken_files_in(const fs::path& folder) {
  std::set<std::string> broken;
  std::ifstream manifest(test::kSharedData / "pillow" / "MANIFEST.tsv");
  std::string line;
  std::getline(manifest, line);
  while (std::getline(manifest, line)) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || line.compare(tab + 1, 7, "rejects") != 0) continue;
    const std::string name = line.substr(0, tab);
    if (kIntactForLibvips.count(name) == 0) broken.insert((folder / name).string());
  }
  broken.insert((folder / "empty.jpg").string());
  broken.insert((folder / "notes.jpg").string());
  return broken;
}

TEST_F(PipelineTest, BrokenFilesAreRecordedWithReasonsAndRetriedOnlyWhenTheyChange) {
  const fs::path pillow = photos_ / "pillow";
  fs::copy(test::kSharedData / "pillow", pillow);
  test::write_text(pillow / "empty.jpg", "");
  test::write_text(pillow / "notes.jpg", "shopping list: milk, eggs\n");
  const std::set<std::string> broken = broken_files_in(pillow);
  ASSERT_EQ(broken.size(), 8u) << "six files Pillow refuses, and our two";

  FakeClipModel model;
  IndexingSummary run = index(model);
  std::set<std::string> failed;
  for (const FailedFile& file : reader().failed_files()) {
    failed.insert(file.path);
    EXPECT_NE(file.reason.find(file.path), std::string::npos) << "the reason names the file: " << file.reason;
  }
  EXPECT_EQ(failed, broken) << "exactly the broken files are recorded as failed";
  for (const std::string& name : kIntactForLibvips) EXPECT_TRUE(id_of(pillow / name)) << name << " is indexed";
  EXPECT_EQ(run.counts.failed, broken.size());
  EXPECT_EQ(run.counts.embedded + run.counts.attached + run.counts.failed, run.counts.scanned);
  EXPECT_GT(run.counts.embedded, 0u) << "the good images are indexed";

  // Not retried while unchanged.
  run = index(model);
  EXPECT_EQ(run.counts.hashed, 0u);
  EXPECT_EQ(run.counts.failed, 0u);
  EXPECT_EQ(reader().failed_files().size(), failed.size()) << "still listed";

  // Changed but still broken: retried once, still failed.
  test::append_bytes(pillow / "truncated_jpeg.jpg", "more garbage");
  run = index(model);
  EXPECT_EQ(run.counts.hashed, 1u);
  EXPECT_EQ(run.counts.failed, 1u);

  // Fixed: replaced by a good photo, it indexes and leaves the failed list.
  fs::copy_file(test::coco_photos()[20], pillow / "broken.png", fs::copy_options::overwrite_existing);
  run = index(model);
  EXPECT_EQ(run.counts.embedded, 1u);
  EXPECT_EQ(run.counts.failed, 0u);
  EXPECT_TRUE(id_of(pillow / "broken.png"));
  EXPECT_EQ(reader().failed_files().size(), failed.size() - 1);

  // A failed file that is deleted leaves the list.
  fs::remove(pillow / "empty.jpg");
  run = index(model);
  EXPECT_EQ(run.counts.removed, 1u);
  EXPECT_EQ(reader().failed_files().size(), failed.size() - 2);
}

TEST_F(PipelineTest, AMissingRootIsOfflineAndItsFilesAreKept) {
  const fs::path drive = dir_ / "drive";
  test::copy_photos(photos_, 2);
  test::copy_photos(drive, 3, 2);
  FakeClipModel model;
  index(model, {photos_, drive});

  fs::rename(drive, dir_ / "drive-unmounted");
  IndexingSummary run = index(model, {photos_, drive});
  ASSERT_EQ(run.offline_roots.size(), 1u);
  EXPECT_EQ(run.offline_roots[0].root, drive.string());
  EXPECT_EQ(run.offline_roots[0].known_files, 3u);
  EXPECT_EQ(run.counts.skipped_offline, 3u);
  EXPECT_EQ(run.counts.removed, 0u);
  EXPECT_EQ(reader().paths_under(drive.string()).size(), 3u);

  fs::rename(dir_ / "drive-unmounted", drive);
  run = index(model, {photos_, drive});
  EXPECT_EQ(run.counts.unchanged, 5u);
  EXPECT_EQ(run.counts.hashed, 0u);
}

// Root lists every folder whatever its permissions, so the second run is made
// by `nobody` (in a child process), who owns the tree but may not list private/.
// The tree and the data folder sit where nobody can reach them (the build tree
// may be below a 0700 folder).
TEST_F(PipelineTest, FilesBelowAFolderThatCannotBeListedAreKept) {
  const test::WorldScratch scratch;
  dir_ = scratch.path();
  data_ = dir_ / "data";
  photos_ = dir_ / "photos";
  fs::create_directories(data_);
  fs::create_directories(photos_);
  test::copy_photos(photos_ / "private", 2);
  test::copy_photos(photos_, 2, 2);
  FakeClipModel model;
  index(model);
  if (::geteuid() == 0) {
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) ASSERT_EQ(::lchown(entry.path().c_str(), 65534, 65534), 0);
    ASSERT_EQ(::lchown(dir_.c_str(), 65534, 65534), 0);
  }
  fs::permissions(photos_ / "private", fs::perms::none);
  const test::ChildOutcome outcome = test::run_unprivileged([&]() -> std::string {
    const IndexingSummary run = index(model);
    if (run.counts.removed != 0) return "the run removed " + std::to_string(run.counts.removed) + " files";
    if (run.unlisted_folders != std::vector<std::string>{(photos_ / "private").string()})
      return "unlisted folders: " + std::to_string(run.unlisted_folders.size()) + ", expected only private/";
    return "";
  });
  fs::permissions(photos_ / "private", fs::perms::owner_all);
  ASSERT_TRUE(outcome.ran) << "could not run the check as the unprivileged user nobody";
  EXPECT_EQ(outcome.failure, "");
  EXPECT_EQ(reader().paths_under((photos_ / "private").string()).size(), 2u);
}

TEST_F(PipelineTest, ProgressHasARealTotalAndEndsAtIt) {
  test::copy_photos(photos_, 9);
  FakeClipModel model;
  std::vector<IndexingProgress> reports;
  index(model, {}, [&](const IndexingProgress& progress) { reports.push_back(progress); });
  ASSERT_FALSE(reports.empty());
  const IndexingProgress& last = reports.back();
  EXPECT_EQ(last.phase, IndexingProgress::Phase::finished);
  EXPECT_EQ(last.total, 9u);
  EXPECT_EQ(last.done, 9u);
  uint64_t previous = 0;
  for (const IndexingProgress& progress : reports) {
    if (progress.phase == IndexingProgress::Phase::scanning) continue;
    EXPECT_EQ(progress.total, 9u);
    EXPECT_GE(progress.done, previous);
    previous = progress.done;
  }
}

TEST_F(PipelineTest, AStoppedRunKeepsWhatItCommittedAndTheNextRunFinishes) {
  test::copy_photos(photos_, 30);
  FakeClipModel model;
  std::atomic<bool> stop{false};
  const IndexingSummary stopped = index(
      model, {}, [&](const IndexingProgress& progress) { if (progress.done > 0) stop = true; }, &stop);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_GT(stopped.counts.embedded, 0u);
  EXPECT_EQ(reader().counts().files_ok, stopped.counts.embedded);

  const IndexingSummary rest = index(model);
  EXPECT_FALSE(rest.stopped);
  EXPECT_EQ(stopped.counts.embedded + rest.counts.embedded, 30u) << "nothing embedded twice, nothing left out";
  EXPECT_EQ(rest.counts.unchanged, stopped.counts.embedded);
}

}  // namespace
}  // namespace imgsearchd

namespace imgsearchd {
namespace {

// Keeps every image the model is given.
class RecordingModel : public FakeClipModel {
 public:
  std::vector<float> encode_images(const float* pixels, size_t n) override {
    const size_t floats = 3 * static_cast<size_t>(kResolution) * kResolution;
    for (size_t i = 0; i < n; ++i) images.emplace_back(pixels + i * floats, pixels + (i + 1) * floats);
    return FakeClipModel::encode_images(pixels, n);
  }
  std::vector<std::vector<float>> images;
};

// Before the model runs, the vector index reserves room for every file the
// run may embed, so its arrays are allocated once (growing by doubling, 10
// vectors in batches of 4 would leave room for 16); the next run that adds a
// few grows it to twice what it holds. Both runs search like an index built
// from the catalogue.
TEST_F(PipelineTest, TheVectorIndexReservesRoomForTheRunsFilesAhead) {
  test::copy_photos(photos_, 10);
  FakeClipModel model;
  Catalog catalog = Catalog::open(catalog_file());
  const ModelId id = model_id(catalog, model);
  const IndexingOptions options = options_for({});
  ASSERT_EQ(options.batch_size, 4u);
  auto expect_searches_as_rebuilt = [&](const VectorIndex& index) {
    const VectorIndex rebuilt = VectorIndex::rebuild(catalog, id);
    ASSERT_EQ(index.ids(), rebuilt.ids());
    for (const VectorId vector : rebuilt.ids()) {
      const std::vector<float> query = *rebuilt.reconstruct(vector);
      const std::vector<SearchHit> got = index.search(query, 5), want = rebuilt.search(query, 5);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].id, want[i].id);
        EXPECT_EQ(got[i].score, want[i].score);
      }
    }
  };
  {
    OpenedIndex opened = VectorIndex::open(index_file(id), catalog, id);
    IndexingTarget target{catalog, id, &opened.index};
    EXPECT_EQ(run_indexing(target, model, model.preprocess(), options).counts.embedded, 10u);
    EXPECT_EQ(opened.index.capacity(), 10u);
    expect_searches_as_rebuilt(opened.index);
  }
  test::copy_photos(photos_, 2, 10);
  OpenedIndex opened = VectorIndex::open(index_file(id), catalog, id);
  IndexingTarget target{catalog, id, &opened.index};
  EXPECT_EQ(run_indexing(target, model, model.preprocess(), options).counts.embedded, 2u);
  EXPECT_EQ(opened.index.capacity(), 20u);
  expect_searches_as_rebuilt(opened.index);
}

// A budget smaller than any photo makes the decoders take turns; the
// workers run below the caller's priority. Every photo is still indexed, and
// the model gets exactly what the loader makes of each (queued as 8-bit crops,
// normalised by the batcher).
TEST_F(PipelineTest, DecodersTakingTurnsUnderATinyBudgetGiveTheModelEachPhotoAsTheLoaderDoes) {
  const std::vector<fs::path> photos = test::copy_photos(photos_, 8);
  decode_memory_bytes_ = 1;
  decode_niceness_ = 5;
  RecordingModel model;
  const IndexingSummary summary = index(model);
  EXPECT_EQ(summary.counts.embedded, photos.size());
  EXPECT_EQ(summary.counts.failed, 0u);

  std::vector<std::vector<float>> expected;
  for (const fs::path& photo : photos) {
    const ImageLoadResult loaded = load_image_for_clip(photo, model.preprocess());
    ASSERT_TRUE(loaded.ok()) << loaded.error;
    expected.push_back(loaded.image->chw);
  }
  std::vector<std::vector<float>> given = model.images;
  std::sort(expected.begin(), expected.end());
  std::sort(given.begin(), given.end());
  EXPECT_EQ(given, expected);
}

// `imgsearchd index` runs once per group of roots with the same filters and
// reports the sum: no count may be dropped on the way.
TEST(IndexingSummarySum, AddsEveryCountAndJoinsTheLists) {
  IndexingSummary first;
  first.counts = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  first.seconds = 1.5;
  first.offline_roots.push_back(OfflineRoot{"/a", "missing", 3});
  IndexingSummary second = first;
  second.stopped = true;
  second.unlisted_folders.push_back("/b/locked");

  first += second;
  const IndexingCounts& c = first.counts;
  const std::vector<uint64_t> doubled = {c.scanned,  c.unchanged, c.hashed,  c.reattached,
                                         c.attached, c.catalogued, c.embedded, c.failed,
                                         c.removed,  c.skipped_offline, c.deferred, c.ignored};
  EXPECT_EQ(doubled, (std::vector<uint64_t>{2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24}));
  EXPECT_DOUBLE_EQ(first.seconds, 3.0);
  EXPECT_TRUE(first.stopped);
  EXPECT_EQ(first.offline_roots.size(), 2u);
  EXPECT_EQ(first.unlisted_folders, std::vector<std::string>{"/b/locked"});
}

}  // namespace
}  // namespace imgsearchd
