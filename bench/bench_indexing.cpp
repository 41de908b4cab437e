// End-to-end indexing speed and memory, next to model-only throughput on the
// same weights, in one run (DESIGN.md: indexing >= 0.8 x model-only; memory
// <= model + 2.5 KB per image + 200 MB). Prints one JSON object;
// bench/indexing_bench.sh runs it beside the Python baseline and prints the
// ratios.
//
//   bench_indexing --weights FILE --photos DIR [--copies K] [--threads N] [--decode-threads N]
//                  [--batch B] [--queue Q] [--model-seconds S] [--work DIR]
//                  [--decode-memory-mb M] [--decode-niceness N[,N...]] [--rss-trace FILE]
//
// Core-seconds are the process's CPU time (every thread): the model alone,
// the indexing run, and decoding alone on one thread (last, so that indexing
// starts as `imgsearchd index` does, with only the model loaded), so the CPU ceiling
// (cores / (decode + model core-s per image)) and the share of the cores the
// run got are taken in the same run. With several --decode-niceness values
// the indexing run is repeated, alternating, once per value (a fresh
// catalogue each time); the top-level figures are the first value's.
//
// The photos are copied K times into a fresh tree under --work, each copy
// with a few bytes appended after the image data (decoders ignore them), so
// every file is distinct content that must be decoded and embedded: K x the
// photos go through the real pipeline (scan, hash, decode, model, SQLite,
// FAISS) into a fresh catalogue.
//
// The indexing run's peak is also taken by sampling the resident set every
// 2 ms, with glibc's malloc totals at the peak (in use, free in the arenas,
// mapped on their own) printed to stderr, to say where it came from; with
// --rss-trace every sample of the first run goes to FILE ("seconds rss_mb").
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
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
using Clock = std::chrono::steady_clock;
using imgsearchd::bench::reset_peak_rss;
using imgsearchd::bench::malloc_totals;
using imgsearchd::bench::print_malloc_totals;
using imgsearchd::bench::status_mb;

struct Args {
  fs::path weights;
  fs::path photos;
  fs::path work = fs::temp_directory_path() / "imgsearchd-bench-indexing";
  int copies = 4;
  int threads = 0;
  int decode_threads = 0;
  int batch = 16;
  int queue = 64;
  double model_seconds = 10;
  int decode_memory_mb = -1;  // -1: the pipeline's default
  std::vector<int> niceness{0};
  int rounds = 1;
  std::string rss_trace;
};

std::vector<int> int_list(const std::string& text) {
  std::vector<int> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    values.push_back(std::stoi(text.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_indexing: %s\n", message.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) die("no value after " + key);
    const std::string value = argv[++i];
    if (key == "--weights") {
      args.weights = value;
    } else if (key == "--photos") {
      args.photos = value;
    } else if (key == "--work") {
      args.work = value;
    } else if (key == "--copies") {
      args.copies = std::stoi(value);
    } else if (key == "--threads") {
      args.threads = std::stoi(value);
    } else if (key == "--decode-threads") {
      args.decode_threads = std::stoi(value);
    } else if (key == "--batch") {
      args.batch = std::stoi(value);
    } else if (key == "--queue") {
      args.queue = std::stoi(value);
    } else if (key == "--decode-memory-mb") {
      args.decode_memory_mb = std::stoi(value);
    } else if (key == "--decode-niceness") {
      args.niceness = int_list(value);
    } else if (key == "--rounds") {
      args.rounds = std::stoi(value);
    } else if (key == "--rss-trace") {
      args.rss_trace = value;
    } else if (key == "--model-seconds") {
      args.model_seconds = std::stod(value);
    } else {
      die("unknown option " + key);
    }
  }
  if (args.weights.empty() || args.photos.empty()) die("usage: bench_indexing --weights FILE --photos DIR [...]");
  return args;
}

size_t make_tree(const Args& args, const fs::path& tree) {
  fs::remove_all(tree);
  fs::create_directories(tree);
  size_t made = 0;
  for (const auto& entry : fs::directory_iterator(args.photos)) {
    const std::string extension = entry.path().extension().string();
    if (extension != ".jpg" && extension != ".jpeg" && extension != ".JPG") continue;
    for (int copy = 0; copy < args.copies; ++copy) {
      const fs::path target = tree / (std::to_string(copy) + "-" + entry.path().filename().string());
      fs::copy_file(entry.path(), target);
      std::ofstream(target, std::ios::binary | std::ios::app) << "imgsearchd-bench-copy-" << copy;
      ++made;
    }
  }
  return made;
}

// Decoding and preprocessing alone, one at a time: core-milliseconds per
// photo (libvips' worker thread included).
double decode_core_ms_per_image(const fs::path& tree, const imgsearchd::PreprocessOptions& preprocess) {
  size_t images = 0;
  const double start = process_cpu_seconds();
  for (const auto& entry : fs::directory_iterator(tree)) {
    if (entry.path().filename().string().rfind("0-", 0) != 0) continue;  // one copy of each photo
    const imgsearchd::ImageLoadResult loaded = imgsearchd::load_image_for_clip(entry.path(), preprocess);
    if (!loaded.ok()) die(loaded.error);
    ++images;
  }
  return 1000.0 * (process_cpu_seconds() - start) / static_cast<double>(images);
}

struct ModelOnly {
  double images_per_second = 0;
  double core_ms_per_image = 0;
};

ModelOnly model_only(imgsearchd::ClipModel& model, int batch, double seconds) {
  const int resolution = model.info().image_resolution;
  std::vector<float> pixels(static_cast<size_t>(batch) * 3 * resolution * resolution);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& value : pixels) value = normal(rng);
  model.encode_images(pixels.data(), static_cast<size_t>(batch));  // warm-up
  size_t images = 0;
  const Clock::time_point start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  double elapsed = 0;
  while (images < static_cast<size_t>(2 * batch) || elapsed < seconds) {
    model.encode_images(pixels.data(), static_cast<size_t>(batch));
    images += static_cast<size_t>(batch);
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  const double cpu = process_cpu_seconds() - cpu_start;
  return ModelOnly{static_cast<double>(images) / elapsed, 1000.0 * cpu / static_cast<double>(images)};
}

}  // namespace

int main(int argc, char** argv) {
  // As imgsearchd does; MALLOC_ARENA_MAX=16 (glibc's default on 2 cores) measures without it.
  imgsearchd::limit_malloc_arenas();
  const Args args = parse(argc, argv);
  spdlog::default_logger()->sinks() = {std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};  // stdout is the JSON
  imgsearchd::init_image_library(argv[0]);

  const fs::path tree = args.work / "photos";
  const size_t files = make_tree(args, tree);
  if (files == 0) die("no JPEGs in " + args.photos.string() + "; run bench/fetch_photos.sh");

  const double rss_start_mb = status_mb("VmRSS:");
  imgsearchd::ModelOptions model_options;
  model_options.threads = args.threads;
  const Clock::time_point load_start = Clock::now();
  std::unique_ptr<imgsearchd::ClipModel> model = imgsearchd::ClipModel::load(args.weights, model_options);
  const double load_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();
  const imgsearchd::ModelInfo& info = model->info();

  reset_peak_rss();
  std::optional<imgsearchd::bench::PeakSampler> model_sampler;
  model_sampler.emplace(std::chrono::milliseconds(2));
  const ModelOnly model_alone = model_only(*model, args.batch, args.model_seconds);
  const imgsearchd::bench::PeakSampler::Sample model_peak = model_sampler->peak();
  model_sampler.reset();
  print_malloc_totals("at the model's sampled peak", model_peak.totals);
  // What the model takes when it runs: weights and libtorch's working memory
  // at this batch size (the peak while it ran alone).
  const double rss_model_mb = status_mb("VmHWM:");

  imgsearchd::PreprocessOptions preprocess;
  preprocess.resolution = info.image_resolution;
  preprocess.mean = info.mean;
  preprocess.std = info.std;

  std::string runs_json;
  struct Run {
    double rate = 0, seconds = 0, cpu_seconds = 0, rss_peak_mb = 0;
  };
  std::vector<Run> first_runs;
  for (int round = 0; round < args.rounds; ++round) {
    for (size_t variant = 0; variant < args.niceness.size(); ++variant) {
      const fs::path data = args.work / "data";
      fs::remove_all(data);
      imgsearchd::Catalog catalog = imgsearchd::Catalog::open(data / "catalog.db");
      const imgsearchd::ModelId model_id = catalog.model("bench", info.fingerprint, info.embed_dim);
      imgsearchd::OpenedIndex opened = imgsearchd::VectorIndex::open(data / "index.faiss", catalog, model_id);

      imgsearchd::IndexingOptions options;
      options.scan.roots = {tree};
      options.decode_threads = args.decode_threads;
      options.queue_size = static_cast<size_t>(args.queue);
      options.batch_size = static_cast<size_t>(args.batch);
      if (args.decode_memory_mb >= 0) options.decode_memory_bytes = static_cast<uint64_t>(args.decode_memory_mb) << 20;
      options.decode_niceness = args.niceness[variant];

      print_malloc_totals("before indexing", malloc_totals());
      reset_peak_rss();
      const double cpu_start = process_cpu_seconds();
      imgsearchd::IndexingTarget target{catalog, model_id, &opened.index};
      std::optional<imgsearchd::bench::PeakSampler> sampler;
      sampler.emplace(std::chrono::milliseconds(2), round == 0 && variant == 0 ? args.rss_trace : std::string());
      const imgsearchd::IndexingSummary summary = imgsearchd::run_indexing(target, *model, preprocess, options);
      Run run;
      run.cpu_seconds = process_cpu_seconds() - cpu_start;
      run.rss_peak_mb = status_mb("VmHWM:");
      const imgsearchd::bench::PeakSampler::Sample peak = sampler->peak();
      sampler.reset();
      print_malloc_totals(("at indexing's sampled peak, " + std::to_string(peak.seconds) + " s in").c_str(),
                          peak.totals);
      print_malloc_totals("after indexing", malloc_totals());
      run.rate = summary.images_per_second();
      run.seconds = summary.seconds;
      if (summary.counts.embedded != files) {
        die("expected " + std::to_string(files) + " images embedded, got " + std::to_string(summary.counts.embedded) +
            " (" + std::to_string(summary.counts.failed) + " failed)");
      }
      if (round == 0 && variant == 0) first_runs.push_back(run);
      char line[512];
      std::snprintf(line, sizeof line,
                    "%s{\"round\": %d, \"decode_niceness\": %d, \"images_per_second\": %.3f, \"seconds\": %.2f, "
                    "\"cpu_seconds\": %.2f, \"rss_peak_mb\": %.1f}",
                    runs_json.empty() ? "" : ", ", round, args.niceness[variant], run.rate, run.seconds,
                    run.cpu_seconds, run.rss_peak_mb);
      runs_json += line;
      std::fprintf(stderr, "bench_indexing: round %d, decode niceness %d: %.2f images/s, peak RSS %.0f MB\n", round,
                   args.niceness[variant], run.rate, run.rss_peak_mb);
    }
  }
  // Decoding alone comes after indexing, so that indexing starts as
  // `imgsearchd index` does, with only the model loaded and run: decoding on
  // this thread leaves its arena holding memory the decoders cannot reuse.
  const double decode_core_ms = decode_core_ms_per_image(tree, preprocess);

  const Run& first = first_runs.front();
  const double overhead_mb = first.rss_peak_mb - rss_model_mb;
  const unsigned cores = std::thread::hardware_concurrency();
  std::printf(
      "{\"files\": %zu, \"batch\": %d, \"threads\": %d, \"decode_threads\": %d, \"resolution\": %d, "
      "\"model_load_s\": %.2f, \"model_images_per_second\": %.3f, \"model_core_ms_per_image\": %.1f, "
      "\"indexing_images_per_second\": %.3f, \"indexing_seconds\": %.2f, \"indexing_cpu_seconds\": %.2f, "
      "\"decode_core_ms_per_image\": %.1f, \"cores\": %u, \"rss_start_mb\": %.1f, \"rss_model_mb\": %.1f, "
      "\"rss_peak_mb\": %.1f, \"overhead_mb\": %.1f, \"overhead_kb_per_image\": %.1f, \"runs\": [%s]}\n",
      files, args.batch, args.threads, args.decode_threads, info.image_resolution, load_seconds,
      model_alone.images_per_second, model_alone.core_ms_per_image, first.rate, first.seconds, first.cpu_seconds,
      decode_core_ms, cores, rss_start_mb, rss_model_mb, first.rss_peak_mb, overhead_mb,
      overhead_mb * 1024.0 / static_cast<double>(files), runs_json.c_str());
  fs::remove_all(args.work);
  return 0;
}
