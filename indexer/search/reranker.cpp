#include "indexer/search/reranker.h"

#include <faiss/utils/distances.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "store/core/errors.h"

namespace imgsearchd {

std::optional<ScoreNormalisation> score_normalisation_from_name(const std::string& name) {
  if (name == "none") return ScoreNormalisation::none;
  if (name == "minmax") return ScoreNormalisation::minmax;
  return std::nullopt;
}

const char* score_normalisation_name(ScoreNormalisation normalisation) {
  return normalisation == ScoreNormalisation::minmax ? "minmax" : "none";
}

void check_rerank_options(const RerankOptions& options, const char* collapse_name, const char* diversity_name) {
  if (options.collapse && !(*options.collapse > 0 && *options.collapse <= 1)) {
    throw InvalidInput(std::string(collapse_name) + " must be a similarity above 0 and at most 1, got " +
                       std::to_string(*options.collapse));
  }
  if (!(options.diversity >= 0 && options.diversity <= 1)) {
    throw InvalidInput(std::string(diversity_name) + " must be between 0 and 1, got " +
                       std::to_string(options.diversity));
  }
}

float dot(const std::vector<float>& a, const std::vector<float>& b) {
  IMGSEARCHD_CHECK(a.size() == b.size(), "vectors of different lengths");
  return faiss::fvec_inner_product(a.data(), b.data(), a.size());  // SIMD; the index scores the same way
}

namespace {

// Representatives in relevance order, each with the candidates collapsed
// under it: a candidate joins the earlier representative it is most
// similar to, if that similarity reaches the threshold.
std::vector<RankedCandidate> collapse(const std::vector<Candidate>& pool, std::optional<float> threshold) {
  std::vector<RankedCandidate> representatives;
  for (size_t i = 0; i < pool.size(); ++i) {
    if (threshold) {
      float best = -std::numeric_limits<float>::infinity();
      RankedCandidate* owner = nullptr;
      for (RankedCandidate& representative : representatives) {
        const float similarity = dot(pool[i].vector, pool[representative.candidate].vector);
        if (similarity > best) {
          best = similarity;
          owner = &representative;
        }
      }
      if (owner && best >= *threshold) {
        owner->members.push_back({i, best});
        continue;
      }
    }
    representatives.push_back({i, pool[i].cosine, {}});
  }
  for (RankedCandidate& representative : representatives) {
    std::stable_sort(representative.members.begin(), representative.members.end(),
                     [](const CollapsedMember& a, const CollapsedMember& b) { return a.similarity > b.similarity; });
  }
  return representatives;
}

// Greedy MMR over `items` (in relevance order) for the first `needed`
// places; ties go to the more relevant.
void diversify(std::vector<RankedCandidate>& items, const std::vector<Candidate>& pool, float weight, size_t needed) {
  const size_t places = std::min(needed, items.size());
  // closest[j]: the highest similarity of item j to an item already placed.
  std::vector<float> closest(items.size(), -std::numeric_limits<float>::infinity());
  for (size_t place = 0; place < places; ++place) {
    size_t best = place;
    if (place > 0) {
      float best_value = -std::numeric_limits<float>::infinity();
      for (size_t j = place; j < items.size(); ++j) {
        const float value = (1 - weight) * pool[items[j].candidate].cosine - weight * closest[j];
        if (value > best_value) {
          best_value = value;
          best = j;
        }
      }
    }
    // Move the chosen item to `place`, keeping the rest in relevance order.
    std::rotate(items.begin() + static_cast<std::ptrdiff_t>(place), items.begin() + static_cast<std::ptrdiff_t>(best),
                items.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    std::rotate(closest.begin() + static_cast<std::ptrdiff_t>(place),
                closest.begin() + static_cast<std::ptrdiff_t>(best),
                closest.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    const std::vector<float>& placed = pool[items[place].candidate].vector;
    for (size_t j = place + 1; j < items.size(); ++j) {
      closest[j] = std::max(closest[j], dot(placed, pool[items[j].candidate].vector));
    }
  }
}

void normalise_scores(std::vector<RankedCandidate>& items, const std::vector<Candidate>& pool,
                      ScoreNormalisation normalisation) {
  if (normalisation == ScoreNormalisation::none || pool.empty()) return;
  float lowest = pool.front().cosine, highest = pool.front().cosine;
  for (const Candidate& candidate : pool) {
    lowest = std::min(lowest, candidate.cosine);
    highest = std::max(highest, candidate.cosine);
  }
  for (RankedCandidate& item : items) {
    item.score = highest > lowest ? (pool[item.candidate].cosine - lowest) / (highest - lowest) : 1.0f;
  }
}

}  // namespace

std::vector<RankedCandidate> rerank(const std::vector<Candidate>& pool, const RerankOptions& options, size_t needed) {
  check_rerank_options(options);
  for (size_t i = 1; i < pool.size(); ++i) {
    IMGSEARCHD_CHECK(pool[i - 1].cosine >= pool[i].cosine, "the candidate pool is not best first");
  }
  std::vector<RankedCandidate> ranked = collapse(pool, options.collapse);
  if (options.diversity > 0) diversify(ranked, pool, options.diversity, needed);
  normalise_scores(ranked, pool, options.normalise);
  return ranked;
}

}  // namespace imgsearchd
