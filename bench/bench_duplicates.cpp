// Near-duplicate finding and reranking at scale, on synthetic vectors: N
// random unit vectors of dimension D (ViT-B/32's 512 by default) with G
// planted groups of near-duplicates (cosine about 0.98 to their base).
// Prints the time of `duplicates` (a batched range search per image, no
// pairwise loop) and of a reranked query beside a plain one.
//
//   bench_duplicates [--count 100000] [--dim 512] [--groups 1000] [--group-size 3] [--min-score 0.95] [--pool 200]
//                    [--index flat|ivf] [--nprobe 32]
//
// With --index ivf (search.index: ivf, automatic lists) each image is
// compared only with the images of its nprobe nearest lists.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "indexer/search/duplicates.h"
#include "indexer/search/reranker.h"
#include "store/faiss/vector_index.h"

using namespace imgsearchd;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<float> random_unit(std::mt19937_64& rng, int dim) {
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(dim));
  double sum = 0;
  for (float& x : v) {
    x = normal(rng);
    sum += static_cast<double>(x) * x;
  }
  for (float& x : v) x = static_cast<float>(x / std::sqrt(sum));
  return v;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  size_t count = 100'000, groups = 1000, group_size = 3, pool_size = 200;
  int dim = 512;
  float min_score = 0.95f;
  IndexOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--count") count = std::stoul(argv[i + 1]);
    else if (flag == "--dim") dim = std::stoi(argv[i + 1]);
    else if (flag == "--groups") groups = std::stoul(argv[i + 1]);
    else if (flag == "--group-size") group_size = std::stoul(argv[i + 1]);
    else if (flag == "--min-score") min_score = std::stof(argv[i + 1]);
    else if (flag == "--pool") pool_size = std::stoul(argv[i + 1]);
    else if (flag == "--index") options.kind = std::string(argv[i + 1]) == "ivf" ? IndexKind::ivf : IndexKind::flat;
    else if (flag == "--nprobe") options.nprobe = std::stoul(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }

  std::mt19937_64 rng(42);
  std::normal_distribution<float> noise(0.0f, 0.2f / std::sqrt(static_cast<float>(dim)));  // cos ~ 0.98
  VectorIndex index(1, dim, options);
  std::vector<LiveVector> chunk;
  std::vector<float> base;
  size_t planted = 0;
  for (size_t i = 0; i < count; ++i) {
    std::vector<float> v;
    const size_t in_group = i % group_size;
    if (planted < groups * group_size && in_group != 0) {
      v = base;
      for (float& x : v) x += noise(rng);
      ++planted;
    } else {
      v = random_unit(rng, dim);
      if (planted < groups * group_size) {
        base = v;
        ++planted;
      }
    }
    chunk.push_back({static_cast<VectorId>(i + 1), std::move(v)});
    // ivf: all in one add, so it trains once on every vector (as a rebuild
    // from the catalogue does), not on the first 10,000 to cross the threshold.
    if (chunk.size() == 4096 && options.kind == IndexKind::flat) {
      index.add(chunk);
      chunk.clear();
    }
  }
  index.add(chunk);
  std::printf("%zu vectors of dimension %d, %zu planted groups of %zu; index %s", index.size(), dim, groups, group_size,
              index_kind_name(index.kind()));
  if (index.trained_lists() > 0) std::printf(" (%zu lists, nprobe %zu)", index.trained_lists(), options.nprobe);
  std::printf("\n");

  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::vector<SearchHit>> found = group_near_duplicates(index, min_score);
  const double duplicates_s = seconds_since(start);
  size_t members = 0;
  for (const auto& group : found) members += group.size();
  std::printf("duplicates at min_score %.2f: %.2f s (%.0f images/s), %zu groups, %zu images in groups\n",
              static_cast<double>(min_score), duplicates_s, static_cast<double>(index.size()) / duplicates_s,
              found.size(), members);

  // A query: plain k = 10 against a reranked pool (collapse 0.94 + diversity 0.5).
  std::vector<double> plain_ms, reranked_ms;
  for (int q = 0; q < 21; ++q) {
    const std::vector<float> query = random_unit(rng, dim);
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<SearchHit> hits = index.search(query, 11);
    plain_ms.push_back(seconds_since(t0) * 1000);

    t0 = std::chrono::steady_clock::now();
    std::vector<Candidate> pool;
    for (const SearchHit& hit : index.search(query, pool_size)) pool.push_back({hit.id, hit.score, *index.reconstruct(hit.id)});
    RerankOptions options;
    options.collapse = 0.94f;
    options.diversity = 0.5f;
    const std::vector<RankedCandidate> ranked = rerank(pool, options, 10);
    reranked_ms.push_back(seconds_since(t0) * 1000);
    if (hits.empty() || ranked.empty()) return 1;
  }
  std::printf("query, median of 21: plain k=10 %.2f ms; pool %zu reranked (collapse 0.94, diversity 0.5) %.2f ms\n",
              median(plain_ms), pool_size, median(reranked_ms));
  return 0;
}
