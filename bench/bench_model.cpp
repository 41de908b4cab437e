// Model-only speed of ClipModel: images per second at several batch sizes and
// the latency of a single text query, printed as one JSON object.
//
//   bench_model --weights FILE [--threads N] [--batches 1,8,16,32] [--seconds S] [--windows W] [--queries Q]
//
// Each batch size runs for S seconds split into W windows; the best and the
// median window are reported.
//
// bench/model_bench.sh runs it next to the Python reference on the same weights.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

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
};

[[noreturn]] void usage(const char* problem) {
  std::fprintf(stderr, "bench_model: %s\nusage: bench_model --weights FILE [--threads N] [--batches 1,8,16,32] "
                       "[--seconds S] [--windows W] [--queries Q]\n", problem);
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

// p50 and p99 in milliseconds of encoding one short query (end-of-text at
// position 9, like the Python reference's query).
std::pair<double, double> text_latency_ms(imgsearchd::ClipModel& model, int queries) {
  std::vector<int32_t> tokens(model.info().context_length, 0);
  tokens[0] = 49406;
  for (int i = 1; i < 9; ++i) tokens[i] = 320 + 97 * i;
  tokens[9] = 49407;
  model.encode_texts({tokens});
  std::vector<double> ms;
  for (int i = 0; i < queries; ++i) {
    const auto start = Clock::now();
    model.encode_texts({tokens});
    ms.push_back(seconds_since(start) * 1000);
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, static_cast<size_t>(ms.size() * 0.99))]};
}

}  // namespace

int main(int argc, char** argv) {
  imgsearchd::select_blas_kernels(argv);  // as the product does: may re-execute once
  const Args args = parse(argc, argv);
  imgsearchd::ModelOptions options;
  options.threads = args.threads;
  try {
    auto start = Clock::now();
    auto model = imgsearchd::ClipModel::load(args.weights, options);
    const double load_s = seconds_since(start);
    options.truncate_text_at_eot = false;
    auto full_text_model = imgsearchd::ClipModel::load(args.weights, options);

    std::vector<std::pair<double, double>> rates;
    for (int batch : args.batches) rates.push_back(images_per_second(*model, batch, args.seconds, args.windows));
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
    const auto [p50, p99] = text_latency_ms(*model, args.queries);
    const auto [full_p50, full_p99] = text_latency_ms(*full_text_model, args.queries);
    std::printf(", \"text_ms_p50\": %.3f, \"text_ms_p99\": %.3f, \"text_full_context_ms_p50\": %.3f, "
                "\"text_full_context_ms_p99\": %.3f}\n", p50, p99, full_p50, full_p99);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
