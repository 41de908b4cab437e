// The process the crash test kills with SIGKILL: it indexes batch after
// batch like the daemon does (commit, apply to the vector index, save the
// index), and prints "committed <i>" once batch i is committed and
// "saved <i>" once the index file reflects it.
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "crash_batches.h"
#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"

int main(int argc, char** argv) {
  using namespace imgsearchd;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  Catalog catalog = Catalog::open(dir / "catalog.db");
  const ModelId model = catalog.model("crash", "f", test::kCrashDim);
  OpenedIndex opened = VectorIndex::open(dir / "index.faiss", catalog, model);
  for (uint64_t i = catalog.generation(); i < 100'000; ++i) {
    opened.index.apply(catalog.commit(test::crash_batch(i, model)));
    std::printf("committed %llu\n", static_cast<unsigned long long>(i));
    std::fflush(stdout);
    opened.index.save(dir / "index.faiss");
    std::printf("saved %llu\n", static_cast<unsigned long long>(i));
    std::fflush(stdout);
  }
  return 0;
}
