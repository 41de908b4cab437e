// The vector index: search, updates from commits, and its file: saved,
// loaded, and rebuilt from the catalogue when missing, stale or corrupt.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <thread>

#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"
#include "catalog_backends.h"
#include "store_test_util.h"

namespace imgsearchd {

// Found by argument-dependent lookup, so outside the anonymous namespace.
bool operator==(const SearchHit& a, const SearchHit& b) { return a.id == b.id && a.score == b.score; }

std::ostream& operator<<(std::ostream& out, const SearchHit& hit) {
  return out << "{" << hit.id << ", " << hit.score << "}";
}

namespace {

using test::fresh_dir;
using test::hash_of;
using test::indexed;
using test::LogCapture;
using test::normalised;
using test::vector_of;

constexpr int kDim = 16;

float dot(const std::vector<float>& a, const std::vector<float>& b) {
  float sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

TEST(VectorIndex, SearchReturnsTheNearestVectorsBestFirstWithCosineScores) {
  VectorIndex index(1, kDim);
  std::vector<LiveVector> vectors;
  for (uint64_t seed = 1; seed <= 50; ++seed) vectors.push_back({static_cast<VectorId>(seed * 1000), vector_of(seed, kDim)});
  index.add(vectors);
  EXPECT_EQ(index.size(), 50u);

  // Not normalised on purpose: the query is normalised by search.
  std::vector<float> query = vector_of(7, kDim);
  for (float& x : query) x *= 3;
  const auto hits = index.search(query, 5);
  ASSERT_EQ(hits.size(), 5u);
  EXPECT_EQ(hits[0].id, 7000);
  EXPECT_NEAR(hits[0].score, 1.0f, 1e-5);
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
  // Scores are cosine similarities.
  const uint64_t second_seed = static_cast<uint64_t>(hits[1].id / 1000);
  EXPECT_NEAR(hits[1].score, dot(normalised(vector_of(7, kDim)), normalised(vector_of(second_seed, kDim))), 1e-5);

  EXPECT_EQ(index.search(query, 500).size(), 50u) << "k beyond the size returns everything";
  EXPECT_TRUE(index.search(query, 0).empty());
  EXPECT_THROW(index.search(std::vector<float>(kDim + 1, 1.0f), 5), InvalidInput);
  EXPECT_THROW(index.search(std::vector<float>(kDim, 0.0f), 5), InvalidInput);
  EXPECT_TRUE(VectorIndex(1, kDim).search(query, 5).empty()) << "an empty index finds nothing";
}

TEST(VectorIndex, AddingAPresentIdReplacesItAndRemovingAnAbsentOneDoesNothing) {
  VectorIndex index(1, kDim);
  index.add({{5, vector_of(1, kDim)}, {6, vector_of(2, kDim)}});
  index.add({{5, vector_of(3, kDim)}});
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.ids(), (std::vector<VectorId>{5, 6}));
  const auto stored = index.reconstruct(5);
  ASSERT_TRUE(stored.has_value());
  EXPECT_NEAR(dot(*stored, normalised(vector_of(3, kDim))), 1.0f, 1e-6);

  index.remove({6, 77});
  EXPECT_EQ(index.ids(), std::vector<VectorId>{5});
  EXPECT_FALSE(index.contains(6));
  EXPECT_FALSE(index.reconstruct(6).has_value());
  EXPECT_THROW(index.add({{8, vector_of(1, kDim - 1)}}), InvalidInput);
  EXPECT_THROW(index.add({{8, vector_of(1, kDim)}, {8, vector_of(2, kDim)}}), InvalidInput);
  EXPECT_EQ(index.size(), 1u) << "a refused add changes nothing";
}

// The pipeline reserves room for the vectors a run may add, so the arrays
// grow once instead of doubling: the room is used as the vectors come (no
// growth while they fit), and results are those of an index that grew by
// itself.
TEST(VectorIndex, ReservedRoomIsFilledWithoutGrowingAndChangesNoResult) {
  VectorIndex reserved(1, kDim), grown(1, kDim);
  reserved.reserve(100);
  EXPECT_EQ(reserved.capacity(), 100u);
  for (uint64_t first = 1; first <= 100; first += 16) {
    std::vector<LiveVector> batch;
    for (uint64_t seed = first; seed < std::min<uint64_t>(first + 16, 101); ++seed) {
      batch.push_back({static_cast<VectorId>(seed), vector_of(seed, kDim)});
    }
    reserved.add(batch);
    grown.add(batch);
    EXPECT_EQ(reserved.capacity(), 100u) << "it grew while the vectors fitted, at " << reserved.size();
  }
  EXPECT_GT(grown.capacity(), 100u) << "grown by doubling (16, 32, 64, 128), so reserving changed something";
  reserved.remove({3, 50});
  grown.remove({3, 50});
  EXPECT_EQ(reserved.ids(), grown.ids());
  for (uint64_t seed = 200; seed < 210; ++seed) {
    EXPECT_EQ(reserved.search(vector_of(seed, kDim), 10), grown.search(vector_of(seed, kDim), 10));
  }
  for (VectorId id : {1, 49, 100}) EXPECT_EQ(reserved.reconstruct(id), grown.reconstruct(id)) << id;

  reserved.reserve(10);
  EXPECT_EQ(reserved.capacity(), 100u) << "reserve never shrinks";
  // A few more than it holds (the live service, one set of changes at a
  // time): room for twice as many, not a copy of every vector per change.
  reserved.reserve(reserved.capacity() + 1);
  EXPECT_EQ(reserved.capacity(), 2 * reserved.size());
  // Many more: exactly what was asked.
  reserved.reserve(1000);
  EXPECT_EQ(reserved.capacity(), 1000u);
  EXPECT_EQ(reserved.search(vector_of(7, kDim), 5), grown.search(vector_of(7, kDim), 5));
}

template <class Backend>
struct VectorIndexFileTest : ::testing::Test {
  Backend backend;
  std::filesystem::path dir = backend.scratch();
  std::filesystem::path index_file = dir / "index.faiss";
  Catalog catalog = Catalog::open(backend.location());
  ModelId model = catalog.model("m", "f", kDim);

  // Commits `count` new contents, starting at `first`, applying each commit.
  void commit_contents(VectorIndex& index, uint64_t first, uint64_t count) {
    Batch batch;
    batch.model = model;
    for (uint64_t seed = first; seed < first + count; ++seed) {
      batch.indexed.push_back(indexed("/photos/" + std::to_string(seed) + ".jpg", seed, kDim));
    }
    index.apply(catalog.commit(batch));
  }

  std::vector<std::vector<SearchHit>> search_some(const VectorIndex& index) {
    std::vector<std::vector<SearchHit>> results;
    for (uint64_t seed = 500; seed < 510; ++seed) results.push_back(index.search(vector_of(seed, kDim), 10));
    return results;
  }

  // An index built by commits and saved; returns its search results.
  std::vector<std::vector<SearchHit>> build_and_save() {
    OpenedIndex opened = VectorIndex::open(index_file, catalog, model);
    commit_contents(opened.index, 1, 40);
    opened.index.save(index_file);
    return search_some(opened.index);
  }
};
// Both catalogue backends: the index is derived from either the same way.
TYPED_TEST_SUITE(VectorIndexFileTest, test::CatalogBackends, test::CatalogBackendNames);

TYPED_TEST(VectorIndexFileTest, ApplyFollowsCommitsAndRefusesAGap) {
  OpenedIndex opened = VectorIndex::open(this->index_file, this->catalog, this->model);
  VectorIndex& index = opened.index;
  this->commit_contents(index, 1, 3);
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.generation(), 1u);

  index.apply(this->catalog.commit({this->model, {}, {}, {"/photos/2.jpg"}}));
  EXPECT_FALSE(index.contains(vector_id_for(hash_of(2))));
  EXPECT_EQ(index.generation(), 2u);

  const CommitResult missed = this->catalog.commit({this->model, {indexed("/photos/9.jpg", 9, kDim)}, {}, {}});
  const CommitResult next = this->catalog.commit({this->model, {indexed("/photos/10.jpg", 10, kDim)}, {}, {}});
  (void)missed;
  EXPECT_THROW(index.apply(next), InvalidInput);
  EXPECT_EQ(index.size(), 2u) << "a refused commit changes nothing";
  EXPECT_EQ(index.generation(), 2u);

  const ModelId other = this->catalog.model("other", "g", kDim);
  CommitResult foreign = next;
  foreign.model = other;
  EXPECT_THROW(index.apply(foreign), InvalidInput);
}

TYPED_TEST(VectorIndexFileTest, AMissingFileIsBuiltSavedAndThenLoaded) {
  VectorIndex scratch = VectorIndex::rebuild(this->catalog, this->model);
  this->commit_contents(scratch, 1, 20);
  LogCapture log;
  OpenedIndex first = VectorIndex::open(this->index_file, this->catalog, this->model);
  EXPECT_TRUE(first.rebuilt);
  EXPECT_EQ(first.reason, "missing");
  EXPECT_NE(log.text().find("missing; rebuilt from the catalogue: 20 vectors"), std::string::npos) << log.text();
  EXPECT_TRUE(std::filesystem::exists(this->index_file));
  EXPECT_EQ(first.index.size(), 20u);
  EXPECT_EQ(first.index.generation(), this->catalog.generation());

  OpenedIndex second = VectorIndex::open(this->index_file, this->catalog, this->model);
  EXPECT_FALSE(second.rebuilt) << second.reason;
  EXPECT_EQ(this->search_some(second.index), this->search_some(first.index));
  EXPECT_EQ(second.index.ids(), first.index.ids());
  EXPECT_EQ(second.index.generation(), this->catalog.generation());
}

TYPED_TEST(VectorIndexFileTest, ADeletedFileIsRebuiltWithIdenticalSearchResults) {
  const auto before = this->build_and_save();
  std::filesystem::remove(this->index_file);
  OpenedIndex opened = VectorIndex::open(this->index_file, this->catalog, this->model);
  EXPECT_TRUE(opened.rebuilt);
  EXPECT_EQ(this->search_some(opened.index), before);
  EXPECT_EQ(opened.index.size(), 40u);
  EXPECT_EQ(opened.index.capacity(), 40u) << "rebuilt with room for the live vectors, reserved ahead";
}

TYPED_TEST(VectorIndexFileTest, VectorIdsAreStableAcrossReopeningAndRebuilding) {
  this->build_and_save();
  std::vector<VectorId> expected;
  for (uint64_t seed = 1; seed <= 40; ++seed) expected.push_back(vector_id_for(hash_of(seed)));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(VectorIndex::open(this->index_file, this->catalog, this->model).index.ids(), expected);
  EXPECT_EQ(VectorIndex::rebuild(this->catalog, this->model).ids(), expected);
  Catalog reopened = Catalog::open(this->backend.location());
  EXPECT_EQ(VectorIndex::rebuild(reopened, this->model).ids(), expected);
}

// Damages the saved file in one way and checks it is rebuilt, with a
// warning naming the problem, and searches the same as before.
template <class Fixture>
void expect_rebuilt_after_damage(Fixture& t, const std::function<void()>& damage,
                                 const std::string& expected_problem) {
  const auto before = t.build_and_save();
  damage();
  LogCapture log;
  OpenedIndex opened = VectorIndex::open(t.index_file, t.catalog, t.model);
  EXPECT_TRUE(opened.rebuilt);
  EXPECT_EQ(opened.reason.rfind("corrupt: ", 0), 0u) << opened.reason;
  EXPECT_NE(opened.reason.find(expected_problem), std::string::npos) << opened.reason;
  EXPECT_NE(log.text().find("[warning]"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find(t.index_file.string() + ": corrupt: "), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("rebuilt from the catalogue"), std::string::npos) << log.text();
  EXPECT_EQ(t.search_some(opened.index), before);
  EXPECT_FALSE(VectorIndex::open(t.index_file, t.catalog, t.model).rebuilt) << "the rebuilt file was saved";
}

void resize_file(const std::filesystem::path& file, double fraction) {
  std::filesystem::resize_file(file, static_cast<uintmax_t>(std::filesystem::file_size(file) * fraction));
}

void flip_byte(const std::filesystem::path& file, std::streamoff offset) {
  std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
  io.seekg(offset);
  char c = 0;
  io.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  io.seekp(offset);
  io.write(&c, 1);
}

TYPED_TEST(VectorIndexFileTest, ATruncatedFileIsRebuiltWithALogLine) {
  expect_rebuilt_after_damage(*this, [&] { resize_file(this->index_file, 0.5); }, "truncated");
}

TYPED_TEST(VectorIndexFileTest, AFileCutInsideItsHeaderIsRebuilt) {
  expect_rebuilt_after_damage(*this, [&] { std::filesystem::resize_file(this->index_file, 20); }, "shorter than its");
}

TYPED_TEST(VectorIndexFileTest, AFlippedByteInTheVectorsIsCaughtByTheChecksum) {
  expect_rebuilt_after_damage(
      *this,
      [&] {
        flip_byte(this->index_file, static_cast<std::streamoff>(std::filesystem::file_size(this->index_file) - 100));
      },
      "checksum of its FAISS data");
}

TYPED_TEST(VectorIndexFileTest, AFlippedByteInTheHeaderIsCaught) {
  expect_rebuilt_after_damage(*this, [&] { flip_byte(this->index_file, 40); }, "header checksum");
}

TYPED_TEST(VectorIndexFileTest, AFileOfSomethingElseIsRebuilt) {
  expect_rebuilt_after_damage(
      *this, [&] { std::ofstream(this->index_file, std::ios::binary) << std::string(4096, 'z'); }, "bad magic");
}

// A file that missed commits: SQLite rebuilds it; PostgreSQL catches it up
// from its change log. Either way it holds what the catalogue holds.
TYPED_TEST(VectorIndexFileTest, AFileFromAnOlderGenerationIsStaleAndRebuiltOrCaughtUp) {
  this->build_and_save();
  {
    // A commit after the last save (the daemon was killed before saving again).
    OpenedIndex opened = VectorIndex::open(this->index_file, this->catalog, this->model);
    this->commit_contents(opened.index, 100, 1);
  }
  LogCapture log;
  OpenedIndex opened = VectorIndex::open(this->index_file, this->catalog, this->model);
  if (this->catalog.has_change_log()) {
    // PostgreSQL: the change log says what the missed commit touched.
    EXPECT_FALSE(opened.rebuilt) << opened.reason;
    EXPECT_NE(log.text().find("caught up from catalogue generation 1 to 2"), std::string::npos) << log.text();
  } else {
    EXPECT_TRUE(opened.rebuilt);
    EXPECT_EQ(opened.reason, "stale: it reflects catalogue generation 1, the catalogue is at generation 2");
    EXPECT_NE(log.text().find(opened.reason + "; rebuilt"), std::string::npos) << log.text();
  }
  EXPECT_TRUE(opened.index.contains(vector_id_for(hash_of(100))));
  EXPECT_EQ(opened.index.size(), 41u);
  EXPECT_EQ(opened.index.generation(), 2u);
}

TYPED_TEST(VectorIndexFileTest, AFileOfAnotherModelOrCatalogueIsStale) {
  this->build_and_save();
  const ModelId other = this->catalog.model("other", "g", kDim);
  OpenedIndex for_other = VectorIndex::open(this->index_file, this->catalog, other);
  EXPECT_TRUE(for_other.rebuilt);
  EXPECT_NE(for_other.reason.find("stale: it holds model"), std::string::npos) << for_other.reason;
  EXPECT_EQ(for_other.index.size(), 0u) << "the other model has no embeddings yet";

  // The file now holds the other model's (empty) index; another catalogue
  // with a model of the same id must not take it for its own.
  Catalog fresh = Catalog::open(this->backend.another());
  fresh.model("m", "f", kDim);
  const ModelId fresh_model = fresh.model("other", "g", kDim);
  ASSERT_EQ(fresh_model, other);
  OpenedIndex for_fresh = VectorIndex::open(this->index_file, fresh, fresh_model);
  EXPECT_TRUE(for_fresh.rebuilt);
  EXPECT_EQ(for_fresh.reason, "stale: it was saved for another catalogue");
}

TYPED_TEST(VectorIndexFileTest, AReadOnlyCatalogueRebuildsInMemoryWithoutSaving) {
  VectorIndex scratch = VectorIndex::rebuild(this->catalog, this->model);
  this->commit_contents(scratch, 1, 5);
  Catalog reader = Catalog::open_read_only(this->backend.location());
  OpenedIndex opened = VectorIndex::open(this->index_file, reader, this->model);
  EXPECT_TRUE(opened.rebuilt);
  EXPECT_EQ(opened.index.size(), 5u);
  EXPECT_FALSE(std::filesystem::exists(this->index_file));
}

TYPED_TEST(VectorIndexFileTest, OrphanedContentLeavesTheIndexAndComesBackWithItsEmbedding) {
  OpenedIndex opened = VectorIndex::open(this->index_file, this->catalog, this->model);
  VectorIndex& index = opened.index;
  this->commit_contents(index, 1, 2);
  const VectorId id = vector_id_for(hash_of(1));
  const auto stored = *index.reconstruct(id);

  index.apply(this->catalog.commit({this->model, {}, {}, {"/photos/1.jpg"}}));
  EXPECT_FALSE(index.contains(id));
  EXPECT_EQ(index.size(), 1u);

  index.apply(this->catalog.commit({this->model, {indexed("/elsewhere/back.jpg", 1, 0)}, {}, {}}));
  ASSERT_TRUE(index.contains(id));
  EXPECT_EQ(*index.reconstruct(id), stored);
  EXPECT_EQ(index.search(vector_of(1, kDim), 1)[0].id, id);
}

TYPED_TEST(VectorIndexFileTest, SearchesRunWhileCommitsAreApplied) {
  OpenedIndex opened = VectorIndex::open(this->index_file, this->catalog, this->model);
  VectorIndex& index = opened.index;
  this->commit_contents(index, 1, 20);
  std::atomic<bool> done{false};
  std::atomic<int> bad_results{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < 3; ++t) {
    searchers.emplace_back([&, t] {
      uint64_t seed = 1000 + static_cast<uint64_t>(t);
      while (!done) {
        const auto hits = index.search(vector_of(seed++, kDim), 10);
        if (hits.size() != 10) ++bad_results;
        for (size_t i = 1; i < hits.size(); ++i) {
          if (hits[i - 1].score < hits[i].score) ++bad_results;
        }
      }
    });
  }
  for (uint64_t round = 0; round < 30; ++round) {
    this->commit_contents(index, 100 + round * 5, 5);
    const std::string gone = "/photos/" + std::to_string(100 + round * 5) + ".jpg";
    index.apply(this->catalog.commit({this->model, {}, {}, {gone}}));
    if (round % 10 == 0) index.save(this->index_file);
  }
  done = true;
  for (auto& thread : searchers) thread.join();
  EXPECT_EQ(bad_results.load(), 0);
  EXPECT_EQ(index.size(), 20u + 30 * 4);
  EXPECT_EQ(index.ids(), VectorIndex::rebuild(this->catalog, this->model).ids());
}

// ---- A shared PostgreSQL catalogue: other services' commits ----

struct SharedCatalogueIndexTest : ::testing::Test {
  test::PostgresBackend backend;
  std::filesystem::path index_file = backend.dir / "index.faiss";
  Catalog here = Catalog::open(backend.location("here"));
  Catalog there = Catalog::open(backend.location("there"));
  ModelId model = here.model("m", "f", kDim);

  static Batch batch_of(ModelId model, const std::string& folder, uint64_t first, uint64_t count) {
    Batch batch;
    batch.model = model;
    for (uint64_t seed = first; seed < first + count; ++seed) {
      batch.indexed.push_back(indexed(folder + std::to_string(seed) + ".jpg", seed, kDim));
    }
    return batch;
  }
};

TEST_F(SharedCatalogueIndexTest, AnIndexFollowsAnotherServicesCommitsFromTheChangeLog) {
  OpenedIndex opened = VectorIndex::open(index_file, here, model);
  VectorIndex& index = opened.index;
  here.apply_commit(index, here.commit(batch_of(model, "/here/", 1, 5)));
  ASSERT_EQ(index.size(), 5u);

  // The other service adds images, one of them a copy of ours, and removes nothing of ours.
  there.commit(batch_of(model, "/there/", 3, 6));  // seeds 3..8: 3 new contents
  there.commit({model, {}, {}, {"/there/8.jpg"}});
  EXPECT_EQ(index.generation(), 1u);
  // Our next commit follows theirs: apply_commit takes them in too.
  const CommitResult ours = here.commit({model, {}, {}, {"/here/1.jpg"}});
  EXPECT_EQ(ours.generation, 4u);
  here.apply_commit(index, ours);
  EXPECT_EQ(index.generation(), 4u);
  EXPECT_EQ(index.ids(), VectorIndex::rebuild(here, model).ids());
  EXPECT_FALSE(index.contains(vector_id_for(hash_of(1))));
  EXPECT_TRUE(index.contains(vector_id_for(hash_of(7))));
  EXPECT_FALSE(index.contains(vector_id_for(hash_of(8))));

  // While idle, catch_up follows them (what a running service polls for).
  there.commit(batch_of(model, "/there/", 20, 2));
  EXPECT_EQ(here.catch_up(index), StoreUpdate::applied);
  EXPECT_EQ(here.catch_up(index), StoreUpdate::current);
  EXPECT_EQ(index.generation(), 5u);
  EXPECT_EQ(index.ids(), VectorIndex::rebuild(here, model).ids());
  EXPECT_EQ(index.search(vector_of(21, kDim), 1)[0].id, vector_id_for(hash_of(21)));
}

TEST_F(SharedCatalogueIndexTest, ASavedIndexBehindTheCatalogueCatchesUpInsteadOfBeingRebuilt) {
  {
    OpenedIndex opened = VectorIndex::open(index_file, here, model);
    here.apply_commit(opened.index, here.commit(batch_of(model, "/here/", 1, 30)));
    opened.index.save(index_file);
  }
  there.commit(batch_of(model, "/there/", 25, 10));
  there.commit({model, {}, {}, {"/there/34.jpg"}});
  here.commit({model, {}, {}, {"/here/2.jpg"}});
  test::LogCapture log;
  OpenedIndex reopened = VectorIndex::open(index_file, here, model);
  EXPECT_FALSE(reopened.rebuilt) << reopened.reason;
  EXPECT_TRUE(reopened.caught_up);
  EXPECT_NE(log.text().find("caught up from catalogue generation 1 to 4"), std::string::npos) << log.text();
  EXPECT_EQ(reopened.index.ids(), VectorIndex::rebuild(here, model).ids());
  EXPECT_EQ(reopened.index.size(), 30u + 3 - 1) << "3 new of theirs (34 removed again), 2 of ours removed";
}

// Catching up reads each touched content's vector, about twice as slowly
// per vector as a rebuild reads every live one: an index behind by more
// than half its vectors (and half the catalogue's) is rebuilt instead.
TEST_F(SharedCatalogueIndexTest, ASavedIndexFarBehindIsRebuiltRatherThanCaughtUp) {
  {
    OpenedIndex opened = VectorIndex::open(index_file, here, model);
    here.apply_commit(opened.index, here.commit(batch_of(model, "/here/", 1, 4)));
    opened.index.save(index_file);
  }
  there.commit(batch_of(model, "/there/", 100, 10));
  test::LogCapture log;
  OpenedIndex reopened = VectorIndex::open(index_file, here, model);
  EXPECT_TRUE(reopened.rebuilt);
  EXPECT_FALSE(reopened.caught_up);
  EXPECT_EQ(reopened.reason,
            "stale: it reflects catalogue generation 1, the catalogue is at generation 2; it is 10 contents behind, "
            "more than half of its 4 vectors and of the catalogue's 14 live ones (rebuilding is quicker)");
  EXPECT_NE(log.text().find(reopened.reason + "; rebuilt"), std::string::npos) << log.text();
  EXPECT_EQ(reopened.index.size(), 14u);
  EXPECT_EQ(reopened.index.ids(), VectorIndex::rebuild(here, model).ids());
  // Saved: the next open loads it as it is.
  EXPECT_FALSE(VectorIndex::open(index_file, here, model).rebuilt);
}

// A running service's index (one object that searches share) far behind:
// catch_up reloads it in place.
TEST_F(SharedCatalogueIndexTest, CatchUpReloadsAnIndexFarBehindInPlace) {
  OpenedIndex opened = VectorIndex::open(index_file, here, model);
  VectorIndex& index = opened.index;
  here.apply_commit(index, here.commit(batch_of(model, "/here/", 1, 4)));
  there.commit(batch_of(model, "/there/", 100, 1));
  EXPECT_EQ(here.catch_up(index), StoreUpdate::applied) << "1 behind, of 4";
  there.commit(batch_of(model, "/there/", 200, 12));
  there.commit({model, {}, {}, {"/there/100.jpg"}});
  EXPECT_EQ(here.rebuild_reason(index.generation(), index.size(), model),
            "it is 13 contents behind, more than half of its 5 vectors and of the catalogue's 16 live ones "
            "(rebuilding is quicker)");
  EXPECT_EQ(here.catch_up(index), StoreUpdate::rebuilt);
  EXPECT_EQ(index.generation(), here.generation());
  EXPECT_EQ(index.ids(), VectorIndex::rebuild(here, model).ids());
  EXPECT_FALSE(index.contains(vector_id_for(hash_of(100))));
  EXPECT_EQ(index.search(vector_of(205, kDim), 1)[0].id, vector_id_for(hash_of(205)));
  // Our own commit after theirs: apply_commit takes the same way.
  there.commit(batch_of(model, "/there/", 300, 20));
  EXPECT_EQ(here.apply_commit(index, here.commit(batch_of(model, "/here/", 50, 1))), StoreUpdate::rebuilt);
  EXPECT_EQ(index.ids(), VectorIndex::rebuild(here, model).ids());
}

// The change log keeps its newest entries, as many as half the live
// contents (commits prune it every 64 generations): an index behind that
// horizon is rebuilt, one within it still catches up, and both end with the
// catalogue's vectors.
TEST_F(SharedCatalogueIndexTest, CommitsPruneTheChangeLogAndAnIndexBehindItIsRebuilt) {
  const std::filesystem::path recent_file = backend.dir / "recent.faiss";
  {
    OpenedIndex opened = VectorIndex::open(index_file, here, model);
    here.apply_commit(opened.index, here.commit(batch_of(model, "/here/", 1, 100)));
    opened.index.save(index_file);  // at generation 1
  }
  for (uint64_t seed = 1000; seed < 1127; ++seed) {  // generations 2 to 128, one new content each
    there.commit(batch_of(model, "/there/", seed, 1));
    if (seed == 1120) VectorIndex::open(recent_file, here, model);  // rebuilt and saved at generation 122
  }
  ASSERT_EQ(here.generation(), 128u);
  // 227 live contents: at most 113 entries kept, whole commits at a time.
  EXPECT_LE(std::stoi(backend.sql_text("SELECT count(*) FROM changes")), 113);
  const int pruned_through = std::stoi(backend.sql_text("SELECT pruned_through FROM change_log"));
  EXPECT_GT(pruned_through, 1);
  EXPECT_LT(pruned_through, 122);
  EXPECT_EQ(backend.sql_text("SELECT min(generation) FROM changes"), std::to_string(pruned_through + 1));

  test::LogCapture log;
  OpenedIndex old = VectorIndex::open(index_file, here, model);
  EXPECT_TRUE(old.rebuilt);
  EXPECT_NE(old.reason.find("; the change log no longer reaches back to generation 1"), std::string::npos)
      << old.reason;
  EXPECT_EQ(old.index.size(), 227u);
  EXPECT_EQ(old.index.ids(), VectorIndex::rebuild(here, model).ids());

  OpenedIndex recent = VectorIndex::open(recent_file, here, model);
  EXPECT_FALSE(recent.rebuilt) << recent.reason;
  EXPECT_TRUE(recent.caught_up);
  EXPECT_EQ(recent.index.ids(), old.index.ids());
}

TEST_F(SharedCatalogueIndexTest, PruningKeepsHalfAsManyEntriesAsLiveContents) {
  here.commit(batch_of(model, "/here/", 1, 10));  // generation 1: 10 entries
  for (uint64_t seed = 20; seed < 24; ++seed) here.commit(batch_of(model, "/here/", seed, 1));  // 2 to 5
  // 14 live: 7 entries at most, whole commits: generations 2 to 5 stay.
  EXPECT_EQ(here.prune_change_log(), 10u);
  EXPECT_EQ(backend.sql_text("SELECT count(*) FROM changes"), "4");
  EXPECT_EQ(here.prune_change_log(), 0u) << "nothing more to prune";
  EXPECT_EQ(here.rebuild_reason(0, 14, model), "the change log no longer reaches back to generation 0");
  EXPECT_EQ(here.rebuild_reason(1, 14, model), "");
  // Everything deleted: the log keeps nothing.
  here.commit({model, {}, {}, {"/here/1.jpg", "/here/2.jpg", "/here/3.jpg", "/here/4.jpg", "/here/5.jpg",
                               "/here/6.jpg", "/here/7.jpg", "/here/8.jpg", "/here/9.jpg", "/here/10.jpg",
                               "/here/20.jpg", "/here/21.jpg", "/here/22.jpg"}});
  EXPECT_EQ(here.prune_change_log(), 17u);
  EXPECT_EQ(backend.sql_text("SELECT pruned_through FROM change_log"), "6");
}

}  // namespace
}  // namespace imgsearchd
