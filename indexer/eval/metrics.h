// Retrieval metrics for one query: Recall@K, Precision@K, average precision
// and reciprocal rank, from a ranked result list and the relevant images.
//
// Conventions (the README repeats them):
// - The list is taken in the order given (a reranked list need not be in
//   score order). Adjacent results with equal scores are a tie: their order
//   is arbitrary, so each metric is its expected value over every order of
//   each tie (McSherry & Najork, "Computing information retrieval
//   performance measures efficiently in the presence of tied scores", 2008).
// - A result id listed twice counts once (its first place); relevant ids
//   listed twice count once.
// - Recall@K = relevant in the first K / relevant; Precision@K = relevant in
//   the first K / K, even when fewer than K results exist (K larger than the
//   index).
// - Average precision over the list: the sum of precision at each relevant
//   result's rank, divided by min(relevant, depth), where depth is the
//   largest K asked for (so a perfect list scores 1 when there are more
//   relevant images than places). Reciprocal rank: 1 / rank of the first
//   relevant result, 0 when none is listed.
#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include "store/core/content_id.h"

namespace imgsearchd {

struct ScoredResult {
  VectorId id = 0;
  float score = 0;
};

struct QueryMetrics {
  std::map<size_t, double> recall;     // per K
  std::map<size_t, double> precision;  // per K
  double average_precision = 0;
  double reciprocal_rank = 0;
};

// `relevant` must not be empty and `ks` must hold positive values (throws
// InvalidInput otherwise). Only ranks up to max(ks) count; a tie that
// straddles that depth is taken whole (its members may fall either side).
QueryMetrics compute_metrics(const std::vector<ScoredResult>& ranked, const std::vector<VectorId>& relevant,
                             const std::vector<size_t>& ks);

// The mean of each metric over `queries` (all zero for none).
QueryMetrics mean_metrics(const std::vector<QueryMetrics>& queries, const std::vector<size_t>& ks);

}  // namespace imgsearchd
