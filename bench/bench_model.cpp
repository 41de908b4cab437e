// Model-only speed of ClipModel: images per second at several batch sizes and
// the latency of a single text query, printed as one JSON object.
//
//   bench_model --weights FILE [--threads N] [--batches 1,8,16,32] [--seconds S] [--windows W] [--queries Q]
//               [--precision fp32|bf16|int8] [--fidelity-images DIR]
//
// Each batch size runs for S seconds split into W windows; the best and the
// median window are reported, and with more than one thread the best of the
// same batch unsplit right after it ("images_per_second_unsplit": ModelOptions::
// split_image_batches). With fp32 the text query is also timed with the
// general product instead of the packed text weights (ModelOptions::
// pack_text_weights), with the cosine between the two, and with each packed
// kernel this CPU runs (AVX-512, AVX2+FMA: "packed_text_ms"). With bf16 or int8 the
// fp32 model's text query is timed too, and the embeddings' cosine to fp32's
// is reported for 64 token sequences and the photos in DIR.
//
// bench/model_bench.sh runs it next to the Python reference on the same weights.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "indexer/image/image_loader.h"
#include "indexer/model/blas_check.h"
#include "indexer/model/clip_model.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Args {
  std::string weights;
  int threads = 0;
  std::vector<int> batches{1, 8, 16, 32};
  double seconds = 5;
  int queries = 100;
  int windows = 5;
  std::string precision = "fp32";
  std::string fidelity_images;  // a folder of photos to compare precision's embeddings with fp32's
};

[[noreturn]] void usage(const char* problem) {
  std::fprintf(stderr, "bench_model: %s\nusage: bench_model --weights FILE [--threads N] [--batches 1,8,16,32] "
                       "[--seconds S] [--windows W] [--queries Q] [--precision fp32|bf16|int8 [--fidelity-images DIR]]\n", problem);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) usage(("no value after " + key).c_str());
    const std::string value = argv[++i];
    if (key == "--weights") {
      a.weights = value;
    } else if (key == "--threads") {
      a.threads = std::stoi(value);
    } else if (key == "--seconds") {
      a.seconds = std::stod(value);
    } else if (key == "--windows") {
      a.windows = std::max(1, std::stoi(value));
    } else if (key == "--queries") {
      a.queries = std::stoi(value);
    } else if (key == "--precision") {
      a.precision = value;
    } else if (key == "--fidelity-images") {
      a.fidelity_images = value;
    } else if (key == "--batches") {
      a.batches.clear();
      std::stringstream list(value);
      for (std::string b; std::getline(list, b, ',');) a.batches.push_back(std::stoi(b));
    } else {
      usage(("unknown option " + key).c_str());
    }
  }
  if (a.weights.empty()) usage("--weights is required");
  return a;
}

// Images per second for one batch size after a warm-up batch, measured in
// `windows` windows of seconds / windows each: {best, median}. On a shared
// machine other work slows some windows; the best one is the closest to what
// the model can do, the median to what it did.
std::pair<double, double> images_per_second(imgsearchd::ClipModel& model, int batch, double seconds, int windows) {
  const int r = model.info().image_resolution;
  std::vector<float> pixels(static_cast<size_t>(batch) * 3 * r * r);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (float& p : pixels) p = normal(rng);
  model.encode_images(pixels.data(), batch);
  std::vector<double> rates;
  for (int w = 0; w < windows; ++w) {
    int done = 0;
    const auto start = Clock::now();
    while (done == 0 || seconds_since(start) < seconds / windows) {
      model.encode_images(pixels.data(), batch);
      done += batch;
    }
    rates.push_back(done / seconds_since(start));
  }
  std::sort(rates.begin(), rates.end());
  return {rates.back(), rates[rates.size() / 2]};
}

// CPU time of all this process's threads: on a shared machine the wall-clock
// latency includes waiting for a core, the CPU time does not (at 1 thread it
// is the work itself; at more it includes OpenMP threads spinning).
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct Latency {
  double p50, p99, cpu_p50;
};

// p50 and p99 in milliseconds of encoding one short query (end-of-text at
// position 9, like the Python reference's query), and the CPU time's p50.
Latency text_latency_ms(imgsearchd::ClipModel& model, int queries) {
  std::vector<int32_t> tokens(model.info().context_length, 0);
  tokens[0] = 49406;
  for (int i = 1; i < 9; ++i) tokens[i] = 320 + 97 * i;
  tokens[9] = 49407;
  model.encode_texts({tokens});
  std::vector<double> ms, cpu_ms;
  for (int i = 0; i < queries; ++i) {
    const auto start = Clock::now();
    const double cpu_start = process_cpu_seconds();
    model.encode_texts({tokens});
    cpu_ms.push_back((process_cpu_seconds() - cpu_start) * 1000);
    ms.push_back(seconds_since(start) * 1000);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu_ms.begin(), cpu_ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, static_cast<size_t>(ms.size() * 0.99))], cpu_ms[cpu_ms.size() / 2]};
}

double cosine(const float* a, const float* b, int n) {
  double dot = 0, na = 0, nb = 0;
  for (int i = 0; i < n; ++i) dot += double(a[i]) * b[i], na += double(a[i]) * a[i], nb += double(b[i]) * b[i];
  return dot / std::sqrt(na * nb);
}

struct Fidelity {
  int count = 0;
  double min = 1, mean = 0;
  void add(double c) {
    min = std::min(min, c);
    mean += (c - mean) / ++count;
  }
};

// Cosine of `model`'s embeddings to the fp32 model's: the photos in `folder`
// (the product's preprocessing) and 64 token sequences of 3 to 30 tokens.
void print_fidelity(imgsearchd::ClipModel& model, imgsearchd::ClipModel& fp32, const std::string& folder,
                    const char* key) {
  const int dim = model.info().embed_dim;
  Fidelity images, texts;
  if (!folder.empty()) {
    imgsearchd::PreprocessOptions pre;
    pre.resolution = model.info().image_resolution;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(folder)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      const auto loaded = imgsearchd::load_image_for_clip(f, pre);
      if (!loaded.ok()) continue;
      const auto a = model.encode_images(loaded.image->chw.data(), 1);
      const auto b = fp32.encode_images(loaded.image->chw.data(), 1);
      images.add(cosine(a.data(), b.data(), dim));
    }
  }
  std::mt19937 rng(7);
  for (int q = 0; q < 64; ++q) {
    std::vector<int32_t> tokens(model.info().context_length, 0);
    const int len = 3 + q % 28;
    tokens[0] = 49406;
    for (int i = 1; i < len; ++i) tokens[i] = static_cast<int32_t>(rng() % 49000);
    tokens[len] = 49407;
    const auto a = model.encode_texts({tokens});
    const auto b = fp32.encode_texts({tokens});
    texts.add(cosine(a.data(), b.data(), dim));
  }
  std::printf(", \"%s\": {\"images\": %d, \"image_cosine_min\": %.7f, \"image_cosine_mean\": %.7f, "
              "\"texts\": %d, \"text_cosine_min\": %.7f, \"text_cosine_mean\": %.7f}",
              key, images.count, images.min, images.mean, texts.count, texts.min, texts.mean);
}

}  // namespace

int main(int argc, char** argv) {
  // Logs to stderr: stdout is the JSON the scripts read.
  spdlog::default_logger()->sinks() = {std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  imgsearchd::select_blas_kernels(argv);  // as the product does: may re-execute once
  const Args args = parse(argc, argv);
  imgsearchd::ModelOptions options;
  options.threads = args.threads;
  options.precision = args.precision;
  try {
    auto start = Clock::now();
    auto model = imgsearchd::ClipModel::load(args.weights, options);
    const double load_s = seconds_since(start);
    options.truncate_text_at_eot = false;
    auto full_text_model = imgsearchd::ClipModel::load(args.weights, options);
    options.truncate_text_at_eot = true;

    // The same batches unsplit (ModelOptions::split_image_batches), each right
    // after the split one, where the model has threads to split between.
    std::unique_ptr<imgsearchd::ClipModel> unsplit;
    if (args.threads != 1) {
      options.split_image_batches = false;
      unsplit = imgsearchd::ClipModel::load(args.weights, options);
      options.split_image_batches = true;
    }
    std::vector<std::pair<double, double>> rates, unsplit_rates;
    for (int batch : args.batches) {
      rates.push_back(images_per_second(*model, batch, args.seconds, args.windows));
      if (unsplit) unsplit_rates.push_back(images_per_second(*unsplit, batch, args.seconds, args.windows));
    }
    unsplit.reset();
    const imgsearchd::BlasKernelReport& blas = imgsearchd::blas_kernel_report();
    std::printf("{\"format\": \"%s\", \"threads\": %d, \"load_s\": %.3f, \"blas_core\": \"%s\", "
                "\"blas_source\": \"%s\"", model->info().format.c_str(), args.threads, load_s, blas.running.c_str(),
                blas.source.c_str());
    for (const bool median : {false, true}) {
      std::printf(", \"%s\": {", median ? "images_per_second_median" : "images_per_second");
      for (size_t i = 0; i < args.batches.size(); ++i)
        std::printf("%s\"%d\": %.3f", i ? ", " : "", args.batches[i], median ? rates[i].second : rates[i].first);
      std::printf("}");
    }
    if (!unsplit_rates.empty()) {
      std::printf(", \"images_per_second_unsplit\": {");
      for (size_t i = 0; i < args.batches.size(); ++i)
        std::printf("%s\"%d\": %.3f", i ? ", " : "", args.batches[i], unsplit_rates[i].first);
      std::printf("}");
    }
    const Latency text = text_latency_ms(*model, args.queries);
    const Latency full = text_latency_ms(*full_text_model, args.queries);
    std::printf(", \"text_ms_p50\": %.3f, \"text_ms_p99\": %.3f, \"text_cpu_ms_p50\": %.3f, "
                "\"text_full_context_ms_p50\": %.3f, \"text_full_context_ms_p99\": %.3f",
                text.p50, text.p99, text.cpu_p50, full.p50, full.p99);
    if (args.precision != "fp32") {
      full_text_model.reset();
      options.precision = "fp32";
      auto fp32 = imgsearchd::ClipModel::load(args.weights, options);
      const Latency fp32_text = text_latency_ms(*fp32, args.queries);
      std::printf(", \"fp32_text_ms_p50\": %.3f, \"fp32_text_cpu_ms_p50\": %.3f", fp32_text.p50, fp32_text.cpu_p50);
      print_fidelity(*model, *fp32, args.fidelity_images, "fidelity");
    } else {
      full_text_model.reset();
      options.pack_text_weights = false;
      auto general = imgsearchd::ClipModel::load(args.weights, options);
      const Latency general_text = text_latency_ms(*general, args.queries);
      std::printf(", \"general_text_ms_p50\": %.3f, \"general_text_ms_p99\": %.3f, \"general_text_cpu_ms_p50\": %.3f",
                  general_text.p50, general_text.p99, general_text.cpu_p50);
      print_fidelity(*model, *general, "", "packed_vs_general");
      general.reset();
      // The text query with each packed kernel this CPU runs (AVX-512, AVX2+FMA),
      // one model at a time: what a CPU with only that instruction set gets.
      const auto chosen = imgsearchd::PackedLinear::best();
      std::printf(", \"packed_kernel\": \"%s\", \"packed_text_ms\": {",
                  chosen ? imgsearchd::PackedLinear::name(*chosen) : "none");
      const char* separator = "";
      for (const auto kernel : {imgsearchd::PackedKernel::avx512, imgsearchd::PackedKernel::avx2}) {
        if (!imgsearchd::PackedLinear::supports(kernel)) continue;
        options.pack_text_weights = true;
        options.packed_kernel = kernel;
        auto forced = imgsearchd::ClipModel::load(args.weights, options);
        const Latency t = text_latency_ms(*forced, args.queries);
        std::printf("%s\"%s\": {\"p50\": %.3f, \"p99\": %.3f, \"cpu_p50\": %.3f}", separator,
                    imgsearchd::PackedLinear::name(kernel), t.p50, t.p99, t.cpu_p50);
        separator = ", ";
      }
      std::printf("}");
    }
    std::printf("}\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
