#include "indexer/eval/metrics.h"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "store/core/errors.h"

namespace imgsearchd {
namespace {

// A run of adjacent results with equal scores: ranks start+1 .. start+size.
struct Tie {
  size_t start = 0;
  size_t size = 0;
  size_t relevant = 0;  // how many of them are relevant
};

std::vector<Tie> ties_of(const std::vector<ScoredResult>& list, const std::unordered_set<VectorId>& relevant) {
  std::vector<Tie> ties;
  for (size_t i = 0; i < list.size(); ++i) {
    if (ties.empty() || list[i].score != list[i - 1].score) ties.push_back({i, 0, 0});
    ++ties.back().size;
    if (relevant.count(list[i].id)) ++ties.back().relevant;
  }
  return ties;
}

// Expected relevant results among the first `k`.
double expected_hits(const std::vector<Tie>& ties, size_t k) {
  double hits = 0;
  for (const Tie& tie : ties) {
    if (tie.start >= k) break;
    const size_t inside = std::min(tie.size, k - tie.start);
    hits += static_cast<double>(tie.relevant) * static_cast<double>(inside) / static_cast<double>(tie.size);
  }
  return hits;
}

// E[1 / rank of the first relevant result], counting ranks up to `depth`:
// within the first tie holding r relevant of m, the first relevant is at
// offset j with probability C(m-1-j, r-1) / C(m, r).
double expected_reciprocal_rank(const std::vector<Tie>& ties, size_t depth) {
  for (const Tie& tie : ties) {
    if (tie.relevant == 0) continue;
    const double m = static_cast<double>(tie.size), r = static_cast<double>(tie.relevant);
    double probability = r / m, sum = 0;
    for (size_t j = 0; j + tie.relevant <= tie.size && tie.start + j < depth; ++j) {
      sum += probability / static_cast<double>(tie.start + 1 + j);
      const double jd = static_cast<double>(j);
      if (m - 1 - jd > 0) probability *= (m - r - jd) / (m - 1 - jd);
    }
    return sum;
  }
  return 0;
}

// E[sum of precision at each relevant rank]: a relevant result of a tie
// (start a, size m, r relevant, `before` relevant earlier) sits at offset u
// with probability 1/m, with (r-1) u / (m-1) relevant ahead of it in the tie
// on average; precision is linear in that count. Ranks past `depth` count
// nothing.
double expected_precision_sum(const std::vector<Tie>& ties, size_t depth) {
  double sum = 0;
  size_t before = 0;
  for (const Tie& tie : ties) {
    if (tie.relevant > 0) {
      double per_result = 0;
      for (size_t u = 0; u < tie.size && tie.start + u < depth; ++u) {
        const double ahead = tie.size > 1 ? static_cast<double>(tie.relevant - 1) * static_cast<double>(u) /
                                                static_cast<double>(tie.size - 1)
                                          : 0.0;
        per_result += (static_cast<double>(before) + 1 + ahead) / static_cast<double>(tie.start + 1 + u);
      }
      sum += static_cast<double>(tie.relevant) * per_result / static_cast<double>(tie.size);
    }
    before += tie.relevant;
  }
  return sum;
}

void check_ks(const std::vector<size_t>& ks) {
  if (ks.empty()) throw InvalidInput("at least one K is needed");
  for (size_t k : ks) {
    if (k == 0) throw InvalidInput("every K must be at least 1, got 0");
  }
}

}  // namespace

QueryMetrics compute_metrics(const std::vector<ScoredResult>& ranked, const std::vector<VectorId>& relevant_ids,
                             const std::vector<size_t>& ks) {
  check_ks(ks);
  const std::unordered_set<VectorId> relevant(relevant_ids.begin(), relevant_ids.end());
  if (relevant.empty()) throw InvalidInput("a query needs at least one relevant image to be measured");
  const size_t depth = *std::max_element(ks.begin(), ks.end());

  // Distinct results; a tie that runs past `depth` is kept whole, since
  // its order is arbitrary, and only ranks up to `depth` count.
  std::vector<ScoredResult> list;
  std::unordered_set<VectorId> seen;
  for (const ScoredResult& result : ranked) {
    if (list.size() >= depth && result.score != list.back().score) break;
    if (seen.insert(result.id).second) list.push_back(result);
  }
  const std::vector<Tie> ties = ties_of(list, relevant);

  QueryMetrics metrics;
  const auto total = static_cast<double>(relevant.size());
  for (size_t k : ks) {
    const double hits = expected_hits(ties, k);
    metrics.recall[k] = hits / total;
    metrics.precision[k] = hits / static_cast<double>(k);
  }
  metrics.average_precision =
      expected_precision_sum(ties, depth) / static_cast<double>(std::min(relevant.size(), depth));
  metrics.reciprocal_rank = expected_reciprocal_rank(ties, depth);
  return metrics;
}

QueryMetrics mean_metrics(const std::vector<QueryMetrics>& queries, const std::vector<size_t>& ks) {
  QueryMetrics mean;
  for (size_t k : ks) {
    mean.recall[k] = 0;
    mean.precision[k] = 0;
  }
  if (queries.empty()) return mean;
  const auto n = static_cast<double>(queries.size());
  // Sums first, then one division: all-ones stay exactly 1.
  for (const QueryMetrics& query : queries) {
    for (size_t k : ks) {
      mean.recall[k] += query.recall.at(k);
      mean.precision[k] += query.precision.at(k);
    }
    mean.average_precision += query.average_precision;
    mean.reciprocal_rank += query.reciprocal_rank;
  }
  for (size_t k : ks) {
    mean.recall[k] /= n;
    mean.precision[k] /= n;
  }
  mean.average_precision /= n;
  mean.reciprocal_rank /= n;
  return mean;
}

}  // namespace imgsearchd
