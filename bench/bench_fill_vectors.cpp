// Fills a data folder's catalogue with N synthetic image embeddings for the
// query benchmarks (bench/query_bench.sh), through the real Catalog::commit,
// as the model given by --weights (its catalogue name and fingerprint, so
// `imgsearchd serve` with that model searches them).
//
// The documented shortcut: the files are fake. Their paths lie below
// /imgsearchd-bench/synthetic/, outside every configured root, so no scan
// looks at them (serve reconciles only its roots) and no thumbnail or file
// route can serve them; searches, `similar` and `status` treat them like
// any indexed image. The vectors come from bench/synthetic_vectors.h.
//
// Idempotent: a catalogue that already holds N or more live vectors of the
// model is left as it is. Writes the first 1000 vector ids, one a line, to
// <data>/bench_ids.txt (for the by-id queries).
//
//   bench_fill_vectors --data DIR --weights MODEL.pt --count 100000 [--seed 1] [--clusters N]
//
// --clusters: groups of similar images; default one per 200 images (a
// collection of events and subjects of a couple of hundred photos each).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/synthetic_vectors.h"
#include "indexer/session/model_session.h"
#include "store/catalog/catalog.h"
#include "store/data/data_dir.h"

using namespace imgsearchd;

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The made-up content hash of synthetic file i.
ContentHash content_hash(uint64_t seed, size_t i) {
  const uint64_t base = seed * 0x100000000ULL + i * 2;
  return ContentHash{splitmix64(base + 1), splitmix64(base + 2)};
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path data, weights;
  size_t count = 100'000, clusters = 0;
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--data") data = argv[i + 1];
    else if (flag == "--weights") weights = argv[i + 1];
    else if (flag == "--count") count = std::stoul(argv[i + 1]);
    else if (flag == "--seed") seed = std::stoull(argv[i + 1]);
    else if (flag == "--clusters") clusters = std::stoul(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (data.empty() || weights.empty()) {
    std::fprintf(stderr, "usage: bench_fill_vectors --data DIR --weights MODEL.pt --count N\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  if (clusters == 0) clusters = std::max<size_t>(16, count / 200);
  std::filesystem::create_directories(data);

  ModelSessionOptions session_options;
  session_options.model = weights.string();
  session_options.runtime.threads = 1;
  const ModelSession session(session_options);
  Catalog catalog = Catalog::open(catalog_path(data));
  const int dim = session.info().embed_dim;
  const ModelId model = catalog.model(session.name(), session.info().fingerprint, dim);

  const uint64_t live = catalog.live_count(model);
  const auto start = std::chrono::steady_clock::now();
  if (live < count) {
    // The same seed gives the same collection: vector i is the i-th drawn.
    bench::SyntheticVectors vectors(dim, clusters, seed);
    for (uint64_t i = 0; i < live; ++i) vectors.next();
    constexpr size_t kBatch = 5000;
    for (size_t first = live; first < count; first += kBatch) {
      Batch batch;
      batch.model = model;
      for (size_t i = first; i < std::min(count, first + kBatch); ++i) {
        char path[64];
        std::snprintf(path, sizeof path, "/imgsearchd-bench/synthetic/%08zu.jpg", i);
        const ContentHash hash = content_hash(seed, i);
        const StatSignature signature{1, 1'000'000 + i, 100'000 + i, 1'700'000'000'000'000'000LL};
        batch.indexed.push_back(IndexedFile{path, signature, hash, vectors.next()});
      }
      catalog.commit(batch);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::ofstream ids(data / "bench_ids.txt");
  for (size_t i = 0; i < std::min<size_t>(count, 1000); ++i) ids << vector_id_for(content_hash(seed, i)) << "\n";
  std::printf("{\"model\": \"%s\", \"model_id\": %lld, \"dim\": %d, \"clusters\": %zu, \"live\": %llu, "
              "\"added\": %llu, \"fill_s\": %.1f}\n",
              session.name().c_str(), static_cast<long long>(model), dim, clusters,
              static_cast<unsigned long long>(catalog.live_count(model)),
              static_cast<unsigned long long>(catalog.live_count(model) - live), seconds);
  return 0;
}
