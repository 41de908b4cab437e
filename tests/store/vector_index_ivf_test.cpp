// The approximate (ivf) vector index: it searches flat until it has enough
// vectors, trains itself on the commit that brings them, stays exact about
// what it holds under adds and removes, survives a restart through its file,
// is rebuilt when the configured kind or lists change, and finds most of the
// true nearest neighbours (recall@10 against the flat index, asserted).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"
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
using test::normalised;
using test::vector_of;

constexpr int kDim = 16;

IndexOptions ivf_options(size_t nlist, size_t nprobe) {
  IndexOptions options;
  options.kind = IndexKind::ivf;
  options.nlist = nlist;
  options.nprobe = nprobe;
  return options;
}

// Synthetic clustered vectors (real embeddings cluster too): `clusters`
// random centres, each point a centre plus Gaussian noise (cosine to its
// centre about 0.75). Deterministic: the same seed gives the same points.
struct ClusteredData {
  ClusteredData(int dim, size_t clusters, uint64_t seed) : dim(dim), rng(seed) {
    std::normal_distribution<float> normal;
    for (size_t c = 0; c < clusters; ++c) {
      std::vector<float> centre(static_cast<size_t>(dim));
      for (float& x : centre) x = normal(rng);
      centres.push_back(normalised(centre));
    }
  }
  std::vector<float> point() {
    std::uniform_int_distribution<size_t> pick(0, centres.size() - 1);
    std::normal_distribution<float> noise(0.0f, 0.9f / std::sqrt(static_cast<float>(dim)));
    std::vector<float> v = centres[pick(rng)];
    for (float& x : v) x += noise(rng);
    return v;
  }
  int dim;
  std::mt19937_64 rng;
  std::vector<std::vector<float>> centres;
};

// The ids of each result list, in order (scores of two index kinds may
// differ in the last bit).
std::vector<std::vector<VectorId>> ranked_ids(const std::vector<std::vector<SearchHit>>& results) {
  std::vector<std::vector<VectorId>> ids;
  for (const auto& hits : results) {
    ids.emplace_back();
    for (const SearchHit& hit : hits) ids.back().push_back(hit.id);
  }
  return ids;
}

std::set<VectorId> ids_of(const std::vector<SearchHit>& hits) {
  std::set<VectorId> ids;
  for (const SearchHit& hit : hits) ids.insert(hit.id);
  return ids;
}

TEST(IvfIndex, FindsMostOfTheTrueNearestNeighboursOnClusteredVectors) {
  constexpr int kRecallDim = 32;
  ClusteredData data(kRecallDim, 64, 7);
  VectorIndex exact(1, kRecallDim);
  VectorIndex approximate(1, kRecallDim, ivf_options(64, 8));
  std::vector<LiveVector> vectors;
  for (VectorId id = 1; id <= 6000; ++id) vectors.push_back({id, data.point()});
  exact.add(vectors);
  approximate.add(vectors);
  ASSERT_EQ(approximate.trained_lists(), 64u) << "6000 vectors are enough to train 64 lists";
  ASSERT_EQ(approximate.size(), 6000u);

  size_t found = 0, wanted = 0;
  for (int q = 0; q < 200; ++q) {
    const std::vector<float> query = data.point();
    const std::set<VectorId> truth = ids_of(exact.search(query, 10));
    const std::vector<SearchHit> hits = approximate.search(query, 10);
    ASSERT_EQ(hits.size(), 10u);
    for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score) << "best first";
    for (const SearchHit& hit : hits) {
      found += truth.count(hit.id);
      // Scores stay exact cosines (IVFFlat keeps the vectors as they are).
      EXPECT_NEAR(hit.score, [&] {
        const std::vector<float> stored = *exact.reconstruct(hit.id);
        const std::vector<float> q_n = normalised(query);
        float dot = 0;
        for (int i = 0; i < kRecallDim; ++i) dot += stored[static_cast<size_t>(i)] * q_n[static_cast<size_t>(i)];
        return dot;
      }(), 1e-4);
    }
    wanted += truth.size();
  }
  const double recall = static_cast<double>(found) / static_cast<double>(wanted);
  RecordProperty("recall_at_10", std::to_string(recall));
  // 8 of 64 lists on 64 clusters: measured 0.999 with this seed.
  EXPECT_GE(recall, 0.95) << "recall@10 against the flat index";

  // Every list probed: exactly the flat index's answer.
  VectorIndex all_lists(1, kRecallDim, ivf_options(64, 64));
  all_lists.add(vectors);
  const std::vector<float> query = data.point();
  EXPECT_EQ(ids_of(all_lists.search(query, 10)), ids_of(exact.search(query, 10)));
}

TEST(IvfIndex, SearchesFlatUntilItHasEnoughVectorsThenTrainsOnTheAddThatBringsThem) {
  // 16 lists need 16 * 39 = 624 vectors.
  VectorIndex index(1, kDim, ivf_options(16, 4));
  std::vector<LiveVector> first;
  for (VectorId id = 1; id <= 600; ++id) first.push_back({id, vector_of(static_cast<uint64_t>(id), kDim)});
  index.add(first);
  EXPECT_EQ(index.trained_lists(), 0u) << "600 vectors: still flat";
  const auto hits = index.search(vector_of(77, kDim), 3);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].id, 77) << "flat is exact";

  std::vector<LiveVector> more;
  for (VectorId id = 601; id <= 700; ++id) more.push_back({id, vector_of(static_cast<uint64_t>(id), kDim)});
  index.add(more);
  EXPECT_EQ(index.trained_lists(), 16u);
  EXPECT_EQ(index.size(), 700u);
  std::vector<VectorId> expected;
  for (VectorId id = 1; id <= 700; ++id) expected.push_back(id);
  EXPECT_EQ(index.ids(), expected) << "training kept every vector and id";
  for (VectorId id : {1, 300, 650, 700}) {
    const auto stored = index.reconstruct(id);
    ASSERT_TRUE(stored.has_value()) << id;
    EXPECT_EQ(*stored, normalised(vector_of(static_cast<uint64_t>(id), kDim))) << id;
    // A stored vector's own direction probes its own list first.
    const auto own = index.search(*stored, 1);
    ASSERT_EQ(own.size(), 1u);
    EXPECT_EQ(own[0].id, id);
  }
}

TEST(IvfIndex, AddsRemovesAndReplacementsAreExactAfterTraining) {
  VectorIndex index(1, kDim, ivf_options(16, 16));
  std::vector<LiveVector> vectors;
  for (VectorId id = 1; id <= 800; ++id) vectors.push_back({id * 10, vector_of(static_cast<uint64_t>(id), kDim)});
  index.add(vectors);
  ASSERT_EQ(index.trained_lists(), 16u);
  // What follows runs with room reserved (the id lookup's; the lists grow on their own).
  index.reserve(2000);
  EXPECT_GE(index.capacity(), 2000u);

  index.remove({50, 60, 12345});  // 12345 was never there
  EXPECT_EQ(index.size(), 798u);
  EXPECT_FALSE(index.contains(50));
  EXPECT_FALSE(index.reconstruct(60).has_value());
  for (const SearchHit& hit : index.search(vector_of(5, kDim), 20)) EXPECT_NE(hit.id, 50) << "a removed id is never found";
  EXPECT_TRUE(ids_of(index.search(vector_of(6, kDim), 800)).count(60) == 0);

  // A present id takes its new vector; an id removed comes back when added.
  index.add({{70, vector_of(9001, kDim)}, {50, vector_of(9002, kDim)}});
  EXPECT_EQ(index.size(), 799u);
  EXPECT_EQ(*index.reconstruct(70), normalised(vector_of(9001, kDim)));
  const auto hits = index.search(vector_of(9001, kDim), 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, 70);
  EXPECT_NEAR(hits[0].score, 1.0f, 1e-5);
  EXPECT_TRUE(index.contains(50));
  const std::vector<VectorId> ids = index.ids();
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(ids.size(), 799u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 70), 1) << "a replaced id is held once";
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 60), 0);
}

TEST(IvfIndex, RangeSearchFindsANearDuplicateInTheProbedLists) {
  VectorIndex index(1, kDim, ivf_options(16, 4));
  std::vector<LiveVector> vectors;
  for (VectorId id = 1; id <= 800; ++id) vectors.push_back({id, vector_of(static_cast<uint64_t>(id), kDim)});
  std::vector<float> twin = vector_of(3, kDim);
  twin[0] += 0.01f;
  vectors.push_back({9999, twin});
  index.add(vectors);
  ASSERT_EQ(index.trained_lists(), 16u);
  const auto found = index.range_search(vector_of(3, kDim), 0.99f);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(ids_of(found[0]), (std::set<VectorId>{3, 9999}));
}

struct IvfIndexFileTest : ::testing::Test {
  std::filesystem::path dir = fresh_dir("store");
  std::filesystem::path index_file = dir / "index.faiss";
  Catalog catalog = Catalog::open(dir / "catalog.db");
  ModelId model = catalog.model("m", "f", kDim);

  void commit_contents(VectorIndex& index, uint64_t first, uint64_t count) {
    Batch batch;
    batch.model = model;
    for (uint64_t seed = first; seed < first + count; ++seed) {
      batch.indexed.push_back(indexed("/photos/" + std::to_string(seed) + ".jpg", seed, kDim));
    }
    index.apply(catalog.commit(batch));
  }
  void delete_contents(VectorIndex& index, std::vector<uint64_t> seeds) {
    Batch batch;
    batch.model = model;
    for (uint64_t seed : seeds) batch.deleted.push_back("/photos/" + std::to_string(seed) + ".jpg");
    index.apply(catalog.commit(batch));
  }
  std::vector<std::vector<SearchHit>> search_some(const VectorIndex& index) {
    std::vector<std::vector<SearchHit>> results;
    for (uint64_t seed = 500; seed < 520; ++seed) results.push_back(index.search(vector_of(seed, kDim), 10));
    return results;
  }
};

TEST_F(IvfIndexFileTest, CommitsTrainItAndARestartLoadsTheTrainedFile) {
  const IndexOptions options = ivf_options(16, 4);
  std::vector<std::vector<SearchHit>> before;
  {
    OpenedIndex opened = VectorIndex::open(index_file, catalog, model, options);
    EXPECT_TRUE(opened.rebuilt);
    VectorIndex& index = opened.index;
    commit_contents(index, 1, 500);
    EXPECT_EQ(index.trained_lists(), 0u);
    commit_contents(index, 501, 300);  // 800 live: this commit trains it
    EXPECT_EQ(index.trained_lists(), 16u);
    delete_contents(index, {2, 505, 700});  // files go: their contents are orphaned
    EXPECT_EQ(index.size(), 797u);
    EXPECT_FALSE(index.contains(vector_id_for(hash_of(505))));
    for (const auto& hits : search_some(index)) {
      for (const SearchHit& hit : hits) EXPECT_NE(hit.id, vector_id_for(hash_of(505)));
    }
    before = search_some(index);
    index.checkpoint();
  }

  OpenedIndex reopened = VectorIndex::open(index_file, catalog, model, options);
  EXPECT_FALSE(reopened.rebuilt) << reopened.reason;
  EXPECT_EQ(reopened.index.kind(), IndexKind::ivf);
  EXPECT_EQ(reopened.index.trained_lists(), 16u);
  EXPECT_EQ(reopened.index.size(), 797u);
  EXPECT_EQ(search_some(reopened.index), before) << "the loaded file answers as the index that saved it";
  EXPECT_FALSE(reopened.index.contains(vector_id_for(hash_of(700))));
  EXPECT_TRUE(reopened.index.reconstruct(vector_id_for(hash_of(701))).has_value());

  // And it keeps following commits after the restart.
  commit_contents(reopened.index, 801, 5);
  EXPECT_EQ(reopened.index.size(), 802u);
  EXPECT_TRUE(reopened.index.contains(vector_id_for(hash_of(803))));

  // A reader (read-only catalogue) searches the kind the writer saved,
  // whatever it was asked for.
  reopened.index.checkpoint();
  const Catalog reader = Catalog::open_read_only(dir / "catalog.db");
  OpenedIndex read = VectorIndex::open(index_file, reader, model);
  EXPECT_FALSE(read.rebuilt) << read.reason;
  EXPECT_EQ(read.index.kind(), IndexKind::ivf);
  EXPECT_EQ(read.index.options().nprobe, 4u);
}

TEST_F(IvfIndexFileTest, AChangeOfKindOrListsRebuildsTheFile) {
  {
    OpenedIndex opened = VectorIndex::open(index_file, catalog, model);
    commit_contents(opened.index, 1, 800);
    opened.index.checkpoint();
  }
  const std::vector<std::vector<SearchHit>> exact = search_some(VectorIndex::open(index_file, catalog, model).index);

  OpenedIndex as_ivf = VectorIndex::open(index_file, catalog, model, ivf_options(16, 16));
  EXPECT_TRUE(as_ivf.rebuilt);
  EXPECT_EQ(as_ivf.reason, "stale: it is an index of kind flat, not ivf");
  EXPECT_EQ(as_ivf.index.trained_lists(), 16u);
  EXPECT_EQ(as_ivf.index.size(), 800u);
  // Every list probed: the same answers as the flat index.
  EXPECT_EQ(ranked_ids(search_some(as_ivf.index)), ranked_ids(exact));
  EXPECT_FALSE(VectorIndex::open(index_file, catalog, model, ivf_options(16, 16)).rebuilt) << "the rebuilt file was saved";

  OpenedIndex other_lists = VectorIndex::open(index_file, catalog, model, ivf_options(8, 4));
  EXPECT_TRUE(other_lists.rebuilt);
  EXPECT_NE(other_lists.reason.find("16 lists, not the 8 asked for"), std::string::npos) << other_lists.reason;
  EXPECT_EQ(other_lists.index.trained_lists(), 8u);

  OpenedIndex back_to_flat = VectorIndex::open(index_file, catalog, model);
  EXPECT_TRUE(back_to_flat.rebuilt);
  EXPECT_EQ(back_to_flat.reason, "stale: it is an index of kind ivf, not flat");
  EXPECT_EQ(back_to_flat.index.trained_lists(), 0u);
  EXPECT_EQ(ranked_ids(search_some(back_to_flat.index)), ranked_ids(exact));
}

TEST_F(IvfIndexFileTest, AutomaticListsAreRetrainedAtOpenOnceTheIndexHasGrownFourfold) {
  IndexOptions options;
  options.kind = IndexKind::ivf;  // nlist 0: about sqrt(vectors), from kIvfMinVectors on
  {
    OpenedIndex opened = VectorIndex::open(index_file, catalog, model, options);
    commit_contents(opened.index, 1, kIvfMinVectors - 1);
    EXPECT_EQ(opened.index.trained_lists(), 0u) << "below kIvfMinVectors it stays flat";
    commit_contents(opened.index, kIvfMinVectors, 1);
    EXPECT_EQ(opened.index.trained_lists(), 100u) << "sqrt(10000)";
    // Growing in the running index keeps its lists (no retraining inside a commit).
    commit_contents(opened.index, kIvfMinVectors + 1, 3 * kIvfMinVectors);
    EXPECT_EQ(opened.index.trained_lists(), 100u);
    opened.index.checkpoint();
  }

  OpenedIndex grown = VectorIndex::open(index_file, catalog, model, options);
  EXPECT_TRUE(grown.rebuilt);
  EXPECT_NE(grown.reason.find("its IVF has 100 lists, too few for 40000 vectors"), std::string::npos) << grown.reason;
  EXPECT_EQ(grown.index.trained_lists(), 200u) << "sqrt(40000)";
  EXPECT_EQ(grown.index.size(), 40000u);
}

TEST(IvfIndex, RefusesNprobeZero) {
  EXPECT_THROW(VectorIndex(1, kDim, ivf_options(16, 0)), InvalidInput);
}

}  // namespace
}  // namespace imgsearchd
