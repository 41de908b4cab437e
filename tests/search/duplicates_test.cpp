// Range search on the vector index and the near-duplicate grouping built on
// it, with vectors whose similarities are known by construction.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "indexer/search/duplicates.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {
namespace {

std::vector<float> at_angle(double degrees, int plane = 0) {
  const double radians = degrees * M_PI / 180.0;
  std::vector<float> v(6, 0.0f);
  v[static_cast<size_t>(2 * plane)] = static_cast<float>(std::cos(radians));
  v[static_cast<size_t>(2 * plane + 1)] = static_cast<float>(std::sin(radians));
  return v;
}

std::vector<VectorId> ids_of(const std::vector<SearchHit>& hits) {
  std::vector<VectorId> ids;
  for (const SearchHit& hit : hits) ids.push_back(hit.id);
  return ids;
}

// Plane 0: 10, 11 (3 degrees), 12 (6 degrees from 10, 3 from 11).
// Plane 1: 20, 21 (2 degrees). Plane 2: 30 alone.
VectorIndex sample_index() {
  VectorIndex index(1, 6);
  index.add({{10, at_angle(0)}, {11, at_angle(3)}, {12, at_angle(6)}, {20, at_angle(0, 1)}, {21, at_angle(2, 1)},
             {30, at_angle(0, 2)}});
  return index;
}

TEST(RangeSearch, ReturnsEveryVectorAtOrAboveTheThresholdBestFirst) {
  const VectorIndex index = sample_index();
  std::vector<float> queries = at_angle(0);
  const std::vector<float> second = at_angle(1, 1);
  queries.insert(queries.end(), second.begin(), second.end());
  const std::vector<std::vector<SearchHit>> found = index.range_search(queries, 0.99f);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(ids_of(found[0]), (std::vector<VectorId>{10, 11, 12}));  // cos 6 deg = 0.9945
  EXPECT_NEAR(found[0][0].score, 1.0f, 1e-6);
  EXPECT_NEAR(found[0][2].score, std::cos(6 * M_PI / 180), 1e-6);
  EXPECT_EQ(ids_of(found[1]).size(), 2u);  // 20 and 21, each 1 degree away; not 10 or 30

  // "At least": a threshold equal to a score keeps it.
  const float exact = index.range_search(at_angle(0), 0.99f)[0][1].score;
  EXPECT_EQ(ids_of(index.range_search(at_angle(0), exact)[0]), (std::vector<VectorId>{10, 11}));
  EXPECT_TRUE(index.range_search({}, 0.5f).empty());
  EXPECT_THROW(index.range_search({1, 2, 3}, 0.5f), std::invalid_argument);
  EXPECT_TRUE(VectorIndex(1, 6).range_search(at_angle(0), 0.5f)[0].empty());
}

TEST(Duplicates, GroupsMembersCloseToTheirFirstImageWithoutChaining) {
  const VectorIndex index = sample_index();
  // 0.998 = cos 3.6 deg: 10~11 and 11~12, but 10 and 12 are 6 degrees apart.
  const std::vector<std::vector<SearchHit>> groups = group_near_duplicates(index, 0.998f, /*batch=*/2);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(ids_of(groups[0]), (std::vector<VectorId>{10, 11}));
  EXPECT_FLOAT_EQ(groups[0][0].score, 1.0f);
  EXPECT_NEAR(groups[0][1].score, std::cos(3 * M_PI / 180), 1e-6);
  EXPECT_EQ(ids_of(groups[1]), (std::vector<VectorId>{20, 21}));  // 12 and 30 are alone: no group

  // Looser: 10, 11 and 12 together, whatever the batch size.
  for (size_t batch : {1u, 3u, 100u}) {
    const std::vector<std::vector<SearchHit>> loose = group_near_duplicates(index, 0.99f, batch);
    ASSERT_EQ(loose.size(), 2u) << batch;
    EXPECT_EQ(ids_of(loose[0]), (std::vector<VectorId>{10, 11, 12})) << batch;
  }
  // Strict: nothing but identical vectors.
  EXPECT_TRUE(group_near_duplicates(index, 1.0f).empty());
}

}  // namespace
}  // namespace imgsearchd
