// Reranking: what a result list looks like beyond raw nearest neighbours.
// It works on a candidate pool (the nearest `pool` vectors of a query, best
// first) and returns the order to show them in:
//
//   1. near-duplicate collapsing: a candidate whose cosine similarity to an
//      earlier, better candidate is at least `collapse` is listed under it
//      instead of shown (clip-retrieval's dedupe, default there 0.94);
//   2. diversity: maximal marginal relevance (Carbonell & Goldstein 1998)
//      over what is left: each next result maximises
//      (1 - w) * relevance - w * (highest similarity to a result already shown);
//      w = 0 is pure relevance, w = 1 pure novelty. The first result is
//      always the most relevant.
//
// Everything is a pure function of the pool, so a pool that does not depend
// on the page asked for gives pages that follow each other exactly.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "store/core/content_id.h"

namespace imgsearchd {

// How `score` is reported beside the raw cosine.
enum class ScoreNormalisation {
  none,    // score = cosine
  minmax,  // score = (cosine - lowest in the pool) / (highest - lowest): 1 for the best, 0 for the pool's worst
};

// "none" / "minmax"; nothing for another name.
std::optional<ScoreNormalisation> score_normalisation_from_name(const std::string& name);
const char* score_normalisation_name(ScoreNormalisation normalisation);

struct RerankOptions {
  std::optional<float> collapse;  // similarity in (0, 1] at which candidates collapse; nothing = off
  float diversity = 0;            // MMR weight, 0 .. 1
  ScoreNormalisation normalise = ScoreNormalisation::none;

  bool active() const { return collapse.has_value() || diversity > 0 || normalise != ScoreNormalisation::none; }
};

struct Candidate {
  VectorId id = 0;
  float cosine = 0;           // similarity to the query
  std::vector<float> vector;  // the stored, L2-normalised vector
};

struct CollapsedMember {
  size_t candidate = 0;  // index into the pool
  float similarity = 0;  // cosine similarity to its representative
};

struct RankedCandidate {
  size_t candidate = 0;  // index into the pool
  float score = 0;       // the cosine, normalised as asked
  std::vector<CollapsedMember> members;  // near-duplicates collapsed under it, most similar first
};

// The pool reranked: `pool` must be best first (by cosine). Returns every
// representative, in display order; only the first `needed` are placed by
// MMR (the greedy order's prefix does not depend on how many are asked
// for), the rest follow in relevance order. Throws InvalidInput for
// options out of range.
std::vector<RankedCandidate> rerank(const std::vector<Candidate>& pool, const RerankOptions& options, size_t needed);

// Throws InvalidInput naming the parameter (`collapse_name`, `diversity_name`).
void check_rerank_options(const RerankOptions& options, const char* collapse_name = "collapse",
                          const char* diversity_name = "diversity");

// Inner product of two vectors of equal length.
float dot(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace imgsearchd
