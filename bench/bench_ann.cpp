// The approximate (ivf) vector index against the exact (flat) one on a data
// folder's catalogue (bench_fill_vectors' synthetic one, or a real indexed
// folder): build time, recall@10 and single-query search time in process,
// for several nprobe; optionally the near-duplicate finder on both.
//
// Queries: "near", a stored vector plus noise (cosine about 0.8 to it: like
// "more like this" and a text that matches the collection), and "random",
// a direction unrelated to the collection (what the random-weight text tower
// of the benchmarks gives: the hard case for an approximate index).
//
//   bench_ann --data DIR [--model-id N] [--nlist 0] [--nprobe 8,16,32,64]
//             [--queries 200] [--duplicates | --duplicates-flat] [--min-score 0.95]
//
// --duplicates times the near-duplicate finder on the ivf index;
// --duplicates-flat on the flat one too (quadratic: 100k vectors took
// 1,633 s on 2 shared cores) and counts the groups both found alike.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/synthetic_vectors.h"
#include "indexer/search/duplicates.h"
#include "store/catalog/catalog.h"
#include "store/data/data_dir.h"
#include "store/faiss/vector_index.h"

using namespace imgsearchd;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t i = std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  return values[i];
}

struct Measure {
  double recall = 0;
  double p50_ms = 0, p99_ms = 0;
};

Measure measure(const VectorIndex& index, const std::vector<std::vector<float>>& queries,
                const std::vector<std::set<VectorId>>& truth) {
  size_t found = 0, wanted = 0;
  std::vector<double> ms;
  for (size_t q = 0; q < queries.size(); ++q) {
    const auto start = Clock::now();
    const std::vector<SearchHit> hits = index.search(queries[q], 10);
    ms.push_back(seconds_since(start) * 1000);
    for (const SearchHit& hit : hits) found += truth[q].count(hit.id);
    wanted += truth[q].size();
  }
  return {static_cast<double>(found) / static_cast<double>(wanted), percentile(ms, 0.5), percentile(ms, 0.99)};
}

std::vector<size_t> parse_list(const std::string& text) {
  std::vector<size_t> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) values.push_back(std::stoul(item));
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path data;
  ModelId model = 0;
  size_t nlist = 0, queries_count = 200;
  std::vector<size_t> nprobes{8, 16, 32, 64};
  bool duplicates = false, duplicates_flat = false;
  float min_score = 0.95f;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--data") data = value();
    else if (flag == "--model-id") model = std::stoll(value());
    else if (flag == "--nlist") nlist = std::stoul(value());
    else if (flag == "--nprobe") nprobes = parse_list(value());
    else if (flag == "--queries") queries_count = std::stoul(value());
    else if (flag == "--duplicates") duplicates = true;
    else if (flag == "--duplicates-flat") duplicates = duplicates_flat = true;
    else if (flag == "--min-score") min_score = std::stof(value());
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  const Catalog catalog = Catalog::open_read_only(catalog_path(data));
  if (model == 0) {
    for (const CatalogModel& m : catalog.models()) {
      if (catalog.live_count(m.id) > catalog.live_count(model)) model = m.id;
    }
  }

  auto start = Clock::now();
  const VectorIndex flat = VectorIndex::rebuild(catalog, model);
  const double flat_build_s = seconds_since(start);
  IndexOptions options;
  options.kind = IndexKind::ivf;
  options.nlist = nlist;
  options.nprobe = nprobes.front();
  start = Clock::now();
  VectorIndex ivf = VectorIndex::rebuild(catalog, model, options);
  const double ivf_build_s = seconds_since(start);
  std::printf("%zu vectors of dimension %d (model %lld): flat built from the catalogue in %.1f s, ivf in %.1f s "
              "(%zu lists, training included)\n",
              flat.size(), flat.dim(), static_cast<long long>(model), flat_build_s, ivf_build_s, ivf.trained_lists());
  if (ivf.trained_lists() == 0) std::printf("too few vectors to train: the ivf index searches flat\n");

  // The queries and their true top 10 (the flat index's answer).
  std::mt19937_64 rng(2024);
  const std::vector<VectorId> ids = flat.ids();
  std::uniform_int_distribution<size_t> pick(0, ids.size() - 1);
  std::normal_distribution<float> noise(0.0f, 0.75f / std::sqrt(static_cast<float>(flat.dim())));
  bench::SyntheticVectors random(flat.dim(), 1, 99);
  std::vector<std::vector<float>> near, far;
  for (size_t q = 0; q < queries_count; ++q) {
    std::vector<float> v = *flat.reconstruct(ids[pick(rng)]);
    for (float& x : v) x += noise(rng);
    bench::normalise(v);
    near.push_back(std::move(v));
    far.push_back(random.random_unit());
  }
  const auto truth_of = [&](const std::vector<std::vector<float>>& queries) {
    std::vector<std::set<VectorId>> truth;
    for (const auto& query : queries) {
      std::set<VectorId> top;
      for (const SearchHit& hit : flat.search(query, 10)) top.insert(hit.id);
      truth.push_back(std::move(top));
    }
    return truth;
  };
  const auto near_truth = truth_of(near), far_truth = truth_of(far);

  const Measure flat_near = measure(flat, near, near_truth);
  std::printf("\n%-14s %12s %12s %10s %10s %9s\n", "index", "recall near", "recall rand", "p50 ms", "p99 ms",
              "vs flat");
  std::printf("%-14s %12.3f %12.3f %10.2f %10.2f %9s\n", "flat", 1.0, 1.0, flat_near.p50_ms, flat_near.p99_ms, "1.00");
  for (size_t nprobe : nprobes) {
    ivf.set_nprobe(nprobe);
    const Measure a = measure(ivf, near, near_truth);
    const Measure b = measure(ivf, far, far_truth);
    const std::string label = "ivf nprobe " + std::to_string(nprobe);
    std::printf("%-14s %12.3f %12.3f %10.2f %10.2f %9.2f\n", label.c_str(), a.recall, b.recall, a.p50_ms, a.p99_ms,
                flat_near.p50_ms / a.p50_ms);
    std::printf("{\"vectors\": %zu, \"nlist\": %zu, \"nprobe\": %zu, \"recall10_near\": %.4f, \"recall10_random\": %.4f, "
                "\"ivf_p50_ms\": %.3f, \"flat_p50_ms\": %.3f}\n",
                flat.size(), ivf.trained_lists(), nprobe, a.recall, b.recall, a.p50_ms, flat_near.p50_ms);
  }
  std::printf("(single queries, one thread, in process; p50/p99 over %zu near queries; \"vs flat\" = flat p50 / ivf p50)\n",
              queries_count);

  if (duplicates) {
    ivf.set_nprobe(options.nprobe);
    start = Clock::now();
    const auto groups = group_near_duplicates(ivf, min_score);
    const double ivf_s = seconds_since(start);
    std::printf("\nduplicates at %.2f, ivf nprobe %zu: %.1f s, %zu groups\n", static_cast<double>(min_score),
                options.nprobe, ivf_s, groups.size());
    if (duplicates_flat) {
      start = Clock::now();
      const auto exact = group_near_duplicates(flat, min_score);
      const double flat_s = seconds_since(start);
      size_t same = 0;  // groups the ivf index found exactly as flat did
      const std::set<std::vector<VectorId>> ivf_groups = [&] {
        std::set<std::vector<VectorId>> set;
        for (const auto& group : groups) {
          std::vector<VectorId> members;
          for (const SearchHit& hit : group) members.push_back(hit.id);
          std::sort(members.begin(), members.end());
          set.insert(members);
        }
        return set;
      }();
      for (const auto& group : exact) {
        std::vector<VectorId> members;
        for (const SearchHit& hit : group) members.push_back(hit.id);
        std::sort(members.begin(), members.end());
        same += ivf_groups.count(members);
      }
      std::printf("duplicates at %.2f, flat: %.1f s, %zu groups (%zu of them found identically by ivf); ivf %.1fx "
                  "faster\n",
                  static_cast<double>(min_score), flat_s, exact.size(), same, flat_s / ivf_s);
    }
  }
  return 0;
}
