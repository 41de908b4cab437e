// The reranker on vectors whose similarities are known by construction.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "indexer/search/reranker.h"
#include "store/core/errors.h"

namespace imgsearchd {
namespace {

// A unit vector in the plane of axes 0 and 1 at `degrees`, in 4 dimensions.
std::vector<float> at_angle(double degrees) {
  const double radians = degrees * M_PI / 180.0;
  return {static_cast<float>(std::cos(radians)), static_cast<float>(std::sin(radians)), 0, 0};
}

std::vector<float> axis(int i) {
  std::vector<float> v(4, 0.0f);
  v[static_cast<size_t>(i)] = 1;
  return v;
}

std::vector<VectorId> order_of(const std::vector<RankedCandidate>& ranked, const std::vector<Candidate>& pool) {
  std::vector<VectorId> ids;
  for (const RankedCandidate& item : ranked) ids.push_back(pool[item.candidate].id);
  return ids;
}

// Best first: 1 and 2 are near-duplicates (5 degrees apart), 3 is a
// near-duplicate of 1 too (8 degrees), 4 and 5 point elsewhere.
std::vector<Candidate> sample_pool() {
  return {{1, 0.90f, at_angle(0)},  {2, 0.89f, at_angle(5)}, {3, 0.88f, at_angle(-8)},
          {4, 0.70f, axis(2)},      {5, 0.60f, axis(3)}};
}

TEST(Reranker, NothingOnKeepsRelevanceOrderAndScores) {
  const std::vector<Candidate> pool = sample_pool();
  const std::vector<RankedCandidate> ranked = rerank(pool, {}, 5);
  EXPECT_EQ(order_of(ranked, pool), (std::vector<VectorId>{1, 2, 3, 4, 5}));
  for (const RankedCandidate& item : ranked) {
    EXPECT_EQ(item.score, pool[item.candidate].cosine);
    EXPECT_TRUE(item.members.empty());
  }
}

TEST(Reranker, CollapseListsNearDuplicatesUnderTheBestOne) {
  const std::vector<Candidate> pool = sample_pool();
  RerankOptions options;
  options.collapse = 0.99f;  // cos 5 deg = 0.9962, cos 8 deg = 0.9903, cos 13 deg = 0.974
  const std::vector<RankedCandidate> ranked = rerank(pool, options, 5);
  ASSERT_EQ(order_of(ranked, pool), (std::vector<VectorId>{1, 4, 5}));
  ASSERT_EQ(ranked[0].members.size(), 2u);
  EXPECT_EQ(pool[ranked[0].members[0].candidate].id, 2);  // most similar first
  EXPECT_NEAR(ranked[0].members[0].similarity, std::cos(5 * M_PI / 180), 1e-5);
  EXPECT_EQ(pool[ranked[0].members[1].candidate].id, 3);
  EXPECT_NEAR(ranked[0].members[1].similarity, std::cos(8 * M_PI / 180), 1e-5);

  // A stricter threshold keeps 3 (8 degrees from 1) on its own.
  options.collapse = 0.995f;
  EXPECT_EQ(order_of(rerank(pool, options, 5), pool), (std::vector<VectorId>{1, 3, 4, 5}));
}

TEST(Reranker, DiversityMovesNearDuplicatesDownAndKeepsTheFirst) {
  const std::vector<Candidate> pool = sample_pool();
  RerankOptions options;
  options.diversity = 0.5f;
  // After 1: 2 scores 0.5*0.89 - 0.5*0.996 < 0; 4 scores 0.5*0.70 - 0 > 0.
  EXPECT_EQ(order_of(rerank(pool, options, 5), pool), (std::vector<VectorId>{1, 4, 5, 2, 3}));
  // A small weight changes nothing: relevance still wins.
  options.diversity = 0.05f;
  EXPECT_EQ(order_of(rerank(pool, options, 5), pool), (std::vector<VectorId>{1, 2, 3, 4, 5}));
  // Pure novelty still starts with the most relevant.
  options.diversity = 1.0f;
  EXPECT_EQ(order_of(rerank(pool, options, 5), pool).front(), 1);
}

TEST(Reranker, AShortPrefixIsThePrefixOfTheFullOrder) {
  std::vector<Candidate> pool;
  for (int i = 0; i < 40; ++i) pool.push_back({i + 1, 0.9f - 0.01f * static_cast<float>(i), at_angle(i * 7.0)});
  RerankOptions options;
  options.diversity = 0.6f;
  const std::vector<VectorId> full = order_of(rerank(pool, options, 40), pool);
  for (size_t needed : {1u, 5u, 17u}) {
    const std::vector<VectorId> part = order_of(rerank(pool, options, needed), pool);
    ASSERT_EQ(part.size(), full.size()) << "every candidate is still listed";
    EXPECT_EQ(std::vector<VectorId>(part.begin(), part.begin() + static_cast<long>(needed)),
              std::vector<VectorId>(full.begin(), full.begin() + static_cast<long>(needed)));
  }
}

TEST(Reranker, MinMaxNormalisationSpansThePool) {
  const std::vector<Candidate> pool = sample_pool();
  RerankOptions options;
  options.normalise = ScoreNormalisation::minmax;
  const std::vector<RankedCandidate> ranked = rerank(pool, options, 5);
  EXPECT_FLOAT_EQ(ranked.front().score, 1.0f);
  EXPECT_FLOAT_EQ(ranked.back().score, 0.0f);
  EXPECT_NEAR(ranked[3].score, (0.70 - 0.60) / (0.90 - 0.60), 1e-6);
  // One candidate, or all equal: 1.
  EXPECT_FLOAT_EQ(rerank({pool.front()}, options, 1).front().score, 1.0f);
}

TEST(Reranker, OptionsOutOfRangeAreRefusedByName) {
  RerankOptions options;
  options.collapse = 0.0f;
  EXPECT_THROW(check_rerank_options(options), InvalidInput);
  options.collapse = 1.2f;
  try {
    check_rerank_options(options, "--collapse", "--diversity");
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("--collapse"), std::string::npos) << e.what();
  }
  options.collapse.reset();
  options.diversity = -0.1f;
  EXPECT_THROW(check_rerank_options(options), InvalidInput);
  options.diversity = NAN;
  EXPECT_THROW(check_rerank_options(options), InvalidInput);
  EXPECT_TRUE(rerank({}, {}, 10).empty());
}

}  // namespace
}  // namespace imgsearchd
