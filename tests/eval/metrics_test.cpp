// The retrieval metrics against values computed by hand (the working is in
// the comments).
#include <gtest/gtest.h>

#include <vector>

#include "indexer/eval/metrics.h"
#include "store/core/errors.h"

namespace imgsearchd {
namespace {

std::vector<ScoredResult> list_of(std::initializer_list<std::pair<VectorId, float>> items) {
  std::vector<ScoredResult> list;
  for (const auto& [id, score] : items) list.push_back({id, score});
  return list;
}

const std::vector<ScoredResult> kFive = list_of({{1, .9f}, {2, .8f}, {3, .7f}, {4, .6f}, {5, .5f}});

TEST(Metrics, PlainRanking) {
  // Relevant 2 and 4, at ranks 2 and 4.
  const QueryMetrics m = compute_metrics(kFive, {2, 4}, {1, 3, 5});
  EXPECT_DOUBLE_EQ(m.recall.at(1), 0);
  EXPECT_DOUBLE_EQ(m.precision.at(1), 0);
  EXPECT_DOUBLE_EQ(m.recall.at(3), 0.5);
  EXPECT_DOUBLE_EQ(m.precision.at(3), 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.recall.at(5), 1);
  EXPECT_DOUBLE_EQ(m.precision.at(5), 0.4);
  EXPECT_DOUBLE_EQ(m.average_precision, (1.0 / 2 + 2.0 / 4) / 2);  // 0.5
  EXPECT_DOUBLE_EQ(m.reciprocal_rank, 0.5);
}

TEST(Metrics, TiesAreTheExpectationOverTheirOrders) {
  // 2 and 3 tie at ranks 2-3; 3 is relevant: rank 2 or 3, each half the time.
  const std::vector<ScoredResult> tied = list_of({{1, .9f}, {2, .8f}, {3, .8f}, {4, .5f}});
  const QueryMetrics m = compute_metrics(tied, {3}, {1, 2, 3});
  EXPECT_DOUBLE_EQ(m.recall.at(1), 0);
  EXPECT_DOUBLE_EQ(m.recall.at(2), 0.5);
  EXPECT_DOUBLE_EQ(m.precision.at(2), 0.25);
  EXPECT_DOUBLE_EQ(m.recall.at(3), 1);
  EXPECT_DOUBLE_EQ(m.reciprocal_rank, 0.5 * (1.0 / 2) + 0.5 * (1.0 / 3));  // 5/12
  EXPECT_DOUBLE_EQ(m.average_precision, 5.0 / 12);
  // The order inside the tie does not matter.
  const QueryMetrics swapped = compute_metrics(list_of({{1, .9f}, {3, .8f}, {2, .8f}, {4, .5f}}), {3}, {1, 2, 3});
  EXPECT_DOUBLE_EQ(swapped.reciprocal_rank, m.reciprocal_rank);
  EXPECT_DOUBLE_EQ(swapped.average_precision, m.average_precision);
  EXPECT_DOUBLE_EQ(swapped.recall.at(2), m.recall.at(2));

  // A tie straddling the depth (K = 2): rank 3 does not count.
  const QueryMetrics cut = compute_metrics(tied, {3}, {2});
  EXPECT_DOUBLE_EQ(cut.reciprocal_rank, 0.5 * (1.0 / 2));
  EXPECT_DOUBLE_EQ(cut.average_precision, 0.5 * (1.0 / 2));
  EXPECT_DOUBLE_EQ(cut.recall.at(2), 0.5);

  // Relevant 1, 3, 4; 2, 3, 4 tie at ranks 2-4. Enumerating where the
  // irrelevant 2 falls: rank 2 -> 1 + 2/3 + 3/4; rank 3 -> 1 + 2/2 + 3/4;
  // rank 4 -> 1 + 2/2 + 3/3; mean 49/18, over 3 relevant: 49/54.
  const QueryMetrics three = compute_metrics(list_of({{1, .9f}, {2, .5f}, {3, .5f}, {4, .5f}}), {1, 3, 4}, {2, 4});
  EXPECT_NEAR(three.average_precision, 49.0 / 54, 1e-12);
  EXPECT_DOUBLE_EQ(three.reciprocal_rank, 1);
  EXPECT_NEAR(three.recall.at(2), (1 + 2.0 / 3) / 3, 1e-12);  // 1 sure, + 2 of the 3 tied ranks hold 2 relevant
  EXPECT_DOUBLE_EQ(three.recall.at(4), 1);

  // Every result tied: first relevant among 4 with 2 relevant:
  // rank 1 (1/2), 2 (1/3), 3 (1/6) -> 1/2 + 1/6 + 1/18 = 13/18.
  const QueryMetrics flat = compute_metrics(list_of({{1, .5f}, {2, .5f}, {3, .5f}, {4, .5f}}), {2, 3}, {4});
  EXPECT_NEAR(flat.reciprocal_rank, 13.0 / 18, 1e-12);
}

TEST(Metrics, EmptyResultsScoreZero) {
  const QueryMetrics m = compute_metrics({}, {7}, {1, 10});
  EXPECT_DOUBLE_EQ(m.recall.at(1), 0);
  EXPECT_DOUBLE_EQ(m.recall.at(10), 0);
  EXPECT_DOUBLE_EQ(m.precision.at(10), 0);
  EXPECT_DOUBLE_EQ(m.average_precision, 0);
  EXPECT_DOUBLE_EQ(m.reciprocal_rank, 0);
}

TEST(Metrics, GroundTruthLargerThanK) {
  // Five relevant, the first three retrieved are all relevant.
  const QueryMetrics m = compute_metrics(list_of({{1, .9f}, {2, .8f}, {3, .7f}, {9, .6f}}), {1, 2, 3, 4, 5}, {3});
  EXPECT_DOUBLE_EQ(m.recall.at(3), 0.6);
  EXPECT_DOUBLE_EQ(m.precision.at(3), 1);
  EXPECT_DOUBLE_EQ(m.average_precision, 1) << "a perfect list of depth 3 divides by min(5, 3)";
  EXPECT_DOUBLE_EQ(m.reciprocal_rank, 1);
}

TEST(Metrics, KLargerThanTheIndex) {
  // The index has two images; K = 10.
  const QueryMetrics m = compute_metrics(list_of({{1, .9f}, {2, .8f}}), {2}, {1, 10});
  EXPECT_DOUBLE_EQ(m.recall.at(10), 1);
  EXPECT_DOUBLE_EQ(m.precision.at(10), 0.1) << "precision@K divides by K";
  EXPECT_DOUBLE_EQ(m.average_precision, 0.5);
  EXPECT_DOUBLE_EQ(m.reciprocal_rank, 0.5);
}

TEST(Metrics, DuplicateEntriesCountOnce) {
  const QueryMetrics once = compute_metrics(kFive, {2, 4}, {1, 3, 5});
  const QueryMetrics twice = compute_metrics(kFive, {2, 4, 2, 4, 4}, {1, 3, 5});
  EXPECT_EQ(twice.recall, once.recall);
  EXPECT_EQ(twice.precision, once.precision);
  EXPECT_DOUBLE_EQ(twice.average_precision, once.average_precision);
  // A result listed twice keeps its first place only: 4 is third, not fourth.
  const QueryMetrics repeated = compute_metrics(list_of({{1, .9f}, {2, .8f}, {2, .8f}, {4, .7f}}), {4}, {3});
  EXPECT_DOUBLE_EQ(repeated.reciprocal_rank, 1.0 / 3);
  EXPECT_DOUBLE_EQ(repeated.recall.at(3), 1);
}

TEST(Metrics, MeansAndBadInput) {
  const QueryMetrics a = compute_metrics(kFive, {1}, {1});  // all 1
  const QueryMetrics b = compute_metrics(kFive, {2}, {1});  // all 0: rank 2 is past the depth 1
  EXPECT_DOUBLE_EQ(b.reciprocal_rank, 0);
  const QueryMetrics mean = mean_metrics({a, b}, {1});
  EXPECT_DOUBLE_EQ(mean.recall.at(1), 0.5);
  EXPECT_DOUBLE_EQ(mean.precision.at(1), 0.5);
  EXPECT_DOUBLE_EQ(mean.average_precision, 0.5);
  EXPECT_DOUBLE_EQ(mean.reciprocal_rank, 0.5);
  EXPECT_DOUBLE_EQ(mean_metrics({}, {1}).recall.at(1), 0);

  EXPECT_THROW(compute_metrics(kFive, {}, {1}), InvalidInput);
  EXPECT_THROW(compute_metrics(kFive, {1}, {}), InvalidInput);
  EXPECT_THROW(compute_metrics(kFive, {1}, {0}), InvalidInput);
}

}  // namespace
}  // namespace imgsearchd
