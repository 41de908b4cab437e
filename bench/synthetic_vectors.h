// Synthetic image embeddings for the query benchmarks: deterministic,
// clustered like real ones. Real CLIP embeddings share a common direction
// (two unrelated photos score about 0.1-0.3) and gather by subject; here
// each vector is  common / 2 + centre of its cluster + noise  (noise of
// norm about 1), normalised: about 0.56 between two vectors of one cluster,
// 0.11 between clusters. An approximate index finds such data easier or
// harder than a real photo collection; bench_ann also runs on a real
// catalogue (--data of an indexed folder).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace imgsearchd::bench {

inline void normalise(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  const auto scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
}

class SyntheticVectors {
 public:
  SyntheticVectors(int dim, size_t clusters, uint64_t seed) : dim_(dim), rng_(seed) {
    common_ = random_unit();
    for (size_t c = 0; c < clusters; ++c) centres_.push_back(random_unit());
  }

  // The next vector of the collection (or a query like them: a fresh point
  // of a random cluster).
  std::vector<float> next() {
    std::uniform_int_distribution<size_t> pick(0, centres_.size() - 1);
    std::normal_distribution<float> noise(0.0f, 1.0f / std::sqrt(static_cast<float>(dim_)));
    const std::vector<float>& centre = centres_[pick(rng_)];
    std::vector<float> v(static_cast<size_t>(dim_));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.5f * common_[i] + centre[i] + noise(rng_);
    normalise(v);
    return v;
  }

  // A direction unrelated to the collection (what a random-weight text tower
  // gives): the hard case for an approximate index.
  std::vector<float> random_unit() {
    std::normal_distribution<float> normal;
    std::vector<float> v(static_cast<size_t>(dim_));
    for (float& x : v) x = normal(rng_);
    normalise(v);
    return v;
  }

 private:
  int dim_;
  std::mt19937_64 rng_;
  std::vector<float> common_;
  std::vector<std::vector<float>> centres_;
};

}  // namespace imgsearchd::bench
