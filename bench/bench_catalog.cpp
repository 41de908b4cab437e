// The catalogue on SQLite beside PostgreSQL, on the same machine: commit
// throughput (new images, 512-dimension embeddings, batches as the indexer
// makes them), the per-hit lookup a search makes (paths_of), and the time a
// replica takes to catch up on many new vectors committed by another service
// (against a rebuild from the catalogue). Synthetic contents; no model.
//
//   bench_catalog --sqlite /tmp/b/catalog.db --dsn "host=/tmp/pg port=5432 dbname=bench"
//                 [--images 20000] [--batch 16] [--catch-up 100000]
// The PostgreSQL database must be empty (the bench creates its schema).
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"

using namespace imgsearchd;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kDim = 512;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

IndexedFile synthetic(const std::string& folder, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<float> normal;
  IndexedFile file;
  file.path = folder + std::to_string(seed) + ".jpg";
  file.signature = StatSignature{1, seed, 100000 + seed, static_cast<int64_t>(seed)};
  file.hash = ContentHash{random() | 1, seed};
  file.embedding.resize(kDim);
  for (float& v : file.embedding) v = normal(random);
  return file;
}

// Commits `count` new images from `first` in batches; returns images/s.
double commit_images(Catalog& catalog, ModelId model, const std::string& folder, uint64_t first, uint64_t count,
                     size_t batch_size) {
  const auto start = Clock::now();
  for (uint64_t done = 0; done < count;) {
    Batch batch;
    batch.model = model;
    for (; batch.indexed.size() < batch_size && done < count; ++done) {
      batch.indexed.push_back(synthetic(folder, first + done));
    }
    catalog.commit(batch);
  }
  return static_cast<double>(count) / seconds_since(start);
}

// Microseconds per paths_of (what a search does for each hit it returns).
double paths_of_us(const Catalog& catalog, const std::string& folder, uint64_t count) {
  const int lookups = 2000;
  const auto start = Clock::now();
  for (int i = 0; i < lookups; ++i) {
    const IndexedFile file = synthetic(folder, 1 + static_cast<uint64_t>(i) % count);
    if (catalog.paths_of(vector_id_for(file.hash)).empty()) std::abort();
  }
  return seconds_since(start) * 1e6 / lookups;
}

void run(const char* name, const CatalogLocation& here_location, const CatalogLocation& there_location,
         uint64_t images, size_t batch, uint64_t catch_up) {
  Catalog here = Catalog::open(here_location);
  const ModelId model = here.model("bench", "synthetic", kDim);
  const double rate = commit_images(here, model, "/bench/here/", 1, images, batch);
  std::printf("%-10s commit: %8.0f new images/s (batches of %zu, %llu images)\n", name, rate, batch,
              static_cast<unsigned long long>(images));
  std::printf("%-10s paths_of: %6.1f us per lookup\n", name, paths_of_us(here, "/bench/here/", images));
  if (catch_up == 0 || !here.has_change_log()) return;

  VectorIndex index = VectorIndex::rebuild(here, model);
  Catalog there = Catalog::open(there_location);
  commit_images(there, model, "/bench/there/", 10'000'000, catch_up, 256);
  auto start = Clock::now();
  // Catalog::rebuild_reason chooses: the change log up to half the vectors, a rebuild beyond.
  const StoreUpdate update = here.catch_up(index);
  const double caught_up = seconds_since(start);
  start = Clock::now();
  const VectorIndex rebuilt = VectorIndex::rebuild(here, model);
  const double rebuild = seconds_since(start);
  std::printf("%-10s catch-up on %llu new vectors (%s): %.2f s (a rebuild of all %zu: %.2f s)\n", name,
              static_cast<unsigned long long>(catch_up),
              update == StoreUpdate::applied ? "from the change log" : "rebuilt", caught_up, rebuilt.size(), rebuild);
}

}  // namespace

int main(int argc, char** argv) {
  std::string sqlite, dsn;
  uint64_t images = 20000, catch_up = 100000;
  size_t batch = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--sqlite") sqlite = value;
    else if (key == "--dsn") dsn = value;
    else if (key == "--images") images = std::stoull(value);
    else if (key == "--batch") batch = std::stoul(value);
    else if (key == "--catch-up") catch_up = std::stoull(value);
  }
  if (sqlite.empty() || dsn.empty()) {
    std::fprintf(stderr, "usage: bench_catalog --sqlite FILE --dsn DSN [--images N] [--batch B] [--catch-up M]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  std::filesystem::remove(sqlite);
  const CatalogLocation sqlite_location{std::filesystem::path(sqlite)};
  run("sqlite", sqlite_location, sqlite_location, images, batch, 0);
  run("postgresql", CatalogLocation::postgresql(dsn, "here"), CatalogLocation::postgresql(dsn, "there"), images, batch,
      catch_up);
  return 0;
}
