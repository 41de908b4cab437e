// Memory per indexed image at scale (DESIGN.md: model + <= 2.5 KB per image
// + <= 200 MB). The model's own footprint is measured by bench_indexing; this
// measures what the pipeline keeps per file: the scan's work list, the
// catalogue's known files, the in-run bookkeeping and the vector index
// (512 float32 per image for ViT-B/32: 2 KB of the 2.5).
//
//   bench_indexing_memory [--files N] [--dim D] [--work DIR]
//
// Makes N distinct tiny JPEGs, indexes them with a stand-in model (no CLIP
// weights: vectors derived from the pixels, so the model costs no memory or
// time), then indexes the unchanged tree again (the re-scan path: known files
// loaded, vector index loaded from its file). Prints, as JSON, the peak RSS
// above the start of each run. bench/indexing_bench.sh runs it at two sizes
// and takes the slope, which leaves out fixed costs (threads, queues, SQLite's
// page cache).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <malloc.h>
#include <vips/vips8>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rss.h"
#include "indexer/model/clip_model.h"
#include "indexer/image/image_loader.h"
#include "indexer/pipeline/indexing_pipeline.h"
#include "indexer/pipeline/malloc_arenas.h"
#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"

namespace {

namespace fs = std::filesystem;
using imgsearchd::bench::reset_peak_rss;
using imgsearchd::bench::status_mb;
constexpr int kResolution = 16;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_indexing_memory: %s\n", message.c_str());
  std::exit(2);
}

// A stand-in for CLIP: a fixed random projection of the pixels, normalised.
class StandInModel : public imgsearchd::ClipModel {
 public:
  explicit StandInModel(int dim) {
    info_.format = "stand-in";
    info_.image_resolution = kResolution;
    info_.embed_dim = dim;
    info_.fingerprint = "stand-in-" + std::to_string(dim);
  }
  const imgsearchd::ModelInfo& info() const override { return info_; }
  std::vector<float> encode_images(const float* pixels, size_t n) override {
    const size_t dim = static_cast<size_t>(info_.embed_dim), plane = 3 * kResolution * kResolution;
    std::vector<float> out(n * dim);
    for (size_t i = 0; i < n; ++i) {
      float norm = 0;
      for (size_t d = 0; d < dim; ++d) {
        float value = 1e-3f;
        for (size_t p = d % 7; p < plane; p += 7 + d % 5) value += pixels[i * plane + p];
        out[i * dim + d] = value;
        norm += value * value;
      }
      for (size_t d = 0; d < dim; ++d) out[i * dim + d] /= std::sqrt(norm);
    }
    return out;
  }
  std::vector<float> encode_texts(const std::vector<std::vector<int32_t>>&) override { return {}; }

 private:
  imgsearchd::ModelInfo info_;
};

// N distinct 16 x 16 JPEGs, 1000 per folder, named like camera files.
void make_tree(const fs::path& tree, size_t files) {
  fs::remove_all(tree);
  std::vector<unsigned char> pixels(kResolution * kResolution * 3);
  for (size_t i = 0; i < files; ++i) {
    const fs::path folder = tree / ("event-" + std::to_string(i / 1000));
    if (i % 1000 == 0) fs::create_directories(folder);
    for (size_t p = 0; p < pixels.size(); ++p) pixels[p] = static_cast<unsigned char>((i >> (8 * (p % 3))) + p * 7);
    vips::VImage image =
        vips::VImage::new_from_memory(pixels.data(), pixels.size(), kResolution, kResolution, 3, VIPS_FORMAT_UCHAR);
    image.jpegsave((folder / ("IMG_" + std::to_string(i) + ".jpg")).c_str(), vips::VImage::option()->set("Q", 95));
  }
}

struct RunMemory {
  double peak_above_start_mb = 0;
  double seconds = 0;
  uint64_t embedded = 0;
  uint64_t unchanged = 0;
};

RunMemory index_once(const fs::path& tree, const fs::path& data, StandInModel& model) {
  ::malloc_trim(0);  // what an earlier run freed goes back to the system, so it is not counted as free room here
  const double start_mb = status_mb("VmRSS:");
  reset_peak_rss();
  imgsearchd::IndexingSummary summary;
  {
    imgsearchd::Catalog catalog = imgsearchd::Catalog::open(data / "catalog.db");
    const imgsearchd::ModelId id = catalog.model("stand-in", model.info().fingerprint, model.info().embed_dim);
    const fs::path index_file = data / "index.faiss";
    imgsearchd::OpenedIndex opened = imgsearchd::VectorIndex::open(index_file, catalog, id);
    imgsearchd::IndexingOptions options;
    options.scan.roots = {tree};
    imgsearchd::PreprocessOptions preprocess;
    preprocess.resolution = kResolution;
    imgsearchd::IndexingTarget target{catalog, id, &opened.index};
    summary = imgsearchd::run_indexing(target, model, preprocess, options);
  }
  return {status_mb("VmHWM:") - start_mb, summary.seconds, summary.counts.embedded, summary.counts.unchanged};
}

}  // namespace

int main(int argc, char** argv) {
  imgsearchd::limit_malloc_arenas();  // as imgsearchd does
  size_t files = 20'000;
  int dim = 512;
  fs::path work = fs::temp_directory_path() / "imgsearchd-bench-memory";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--files") {
      files = std::stoull(argv[i + 1]);
    } else if (key == "--dim") {
      dim = std::stoi(argv[i + 1]);
    } else if (key == "--work") {
      work = argv[i + 1];
    } else {
      die("unknown option " + key + "; usage: bench_indexing_memory [--files N] [--dim D] [--work DIR]");
    }
  }
  spdlog::default_logger()->sinks() = {std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  spdlog::set_level(spdlog::level::warn);
  imgsearchd::init_image_library(argv[0]);

  const fs::path tree = work / "photos", data = work / "data";
  make_tree(tree, files);
  fs::remove_all(data);
  StandInModel model(dim);
  const RunMemory first = index_once(tree, data, model);
  if (first.embedded != files) die("expected " + std::to_string(files) + " embedded, got " + std::to_string(first.embedded));
  const RunMemory again = index_once(tree, data, model);
  if (again.unchanged != files) die("the re-scan found changes");

  std::printf("{\"files\": %zu, \"dim\": %d, \"first_run_peak_mb\": %.1f, \"first_run_seconds\": %.1f, "
              "\"rescan_peak_mb\": %.1f, \"rescan_seconds\": %.2f}\n",
              files, dim, first.peak_above_start_mb, first.seconds, again.peak_above_start_mb, again.seconds);
  fs::remove_all(work);
  return 0;
}
