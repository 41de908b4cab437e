// Decode cost per format and size: core-milliseconds per image for
// imgsearchd's loader (decode + CLIP preprocessing to the model's input), on
// real photos re-encoded as camera-style baseline JPEG, progressive JPEG,
// PNG, WebP and HEIC at two sizes, plus the photos as shipped.
// bench/decode_bench.sh runs it beside Pillow's draft-mode decode
// (bench/pillow_decode_bench.py) on the same files and prints the table.
//
//   bench_decode make --photos DIR --out DIR [--sources N]
//       re-encodes the N largest photos of DIR (default 6) into
//       OUT/<format>-<long side>/<name>.<ext>, and links the photos as
//       shipped into OUT/shipped/. Files already there are kept.
//   bench_decode time --files DIR [--repeat R] [--reference DIR] [--resolution N]
//       decodes every file below DIR R times (default 3), one at a time, and
//       prints one JSON line per file: its best core-ms (CPU time of the
//       whole process, so libvips' worker thread counts) and wall-ms; with
//       --reference, the mean absolute difference of its centre crop from
//       Pillow's full-decode crop (<reference>/<relative path>.crop.u8).
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <vips/vips8>

#include "indexer/image/image_loader.h"

namespace {

namespace fs = std::filesystem;
using vips::VImage;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_decode: %s\n", message.c_str());
  std::exit(2);
}

struct Args {
  std::string mode;
  fs::path photos, out, files, reference;
  int sources = 6;
  int repeat = 3;
  int resolution = 224;
};

Args parse(int argc, char** argv) {
  Args args;
  if (argc < 2) die("usage: bench_decode make|time [options] (see bench/bench_decode.cpp)");
  args.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) die("no value after " + key);
    const std::string value = argv[++i];
    if (key == "--photos") args.photos = value;
    else if (key == "--out") args.out = value;
    else if (key == "--files") args.files = value;
    else if (key == "--reference") args.reference = value;
    else if (key == "--sources") args.sources = std::stoi(value);
    else if (key == "--repeat") args.repeat = std::stoi(value);
    else if (key == "--resolution") args.resolution = std::stoi(value);
    else die("unknown option " + key);
  }
  return args;
}

// ---------------------------------------------------------------------------
// make

struct Format {
  const char* name;
  const char* extension;
};
constexpr Format kFormats[] = {
    {"jpeg-baseline", ".jpg"}, {"jpeg-progressive", ".jpg"}, {"png", ".png"}, {"webp", ".webp"}, {"heic", ".heic"},
};
constexpr int kLongSides[] = {1600, 4000};

void save(const VImage& image, const Format& format, const fs::path& file) {
  const std::string name = format.name;
  const std::string partial = file.string() + ".partial" + format.extension;
  if (name == "jpeg-baseline") {
    // What a camera writes: baseline, 4:2:0, high quality, standard tables.
    image.jpegsave(partial.c_str(), VImage::option()->set("Q", 92)->set("subsample_mode", VIPS_FOREIGN_SUBSAMPLE_ON));
  } else if (name == "jpeg-progressive") {
    // What web tools and wallpaper packs write.
    image.jpegsave(partial.c_str(), VImage::option()
                                        ->set("Q", 92)
                                        ->set("interlace", true)
                                        ->set("optimize_coding", true)
                                        ->set("subsample_mode", VIPS_FOREIGN_SUBSAMPLE_ON));
  } else if (name == "png") {
    image.pngsave(partial.c_str(), VImage::option()->set("compression", 6));
  } else if (name == "webp") {
    image.webpsave(partial.c_str(), VImage::option()->set("Q", 90));
  } else if (name == "heic") {
    // A phone's HEIC: HEVC, 4:2:0.
    image.heifsave(partial.c_str(),
                   VImage::option()->set("Q", 60)->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_HEVC));
  }
  fs::rename(partial, file);
}

void make(const Args& args) {
  if (args.photos.empty() || args.out.empty()) die("make needs --photos and --out");
  std::vector<std::pair<long, fs::path>> photos;  // pixels, file
  for (const auto& entry : fs::directory_iterator(args.photos)) {
    if (!entry.is_regular_file()) continue;
    const VImage header = VImage::new_from_file(entry.path().c_str());
    photos.emplace_back(-static_cast<long>(header.width()) * header.height(), entry.path());
  }
  std::sort(photos.begin(), photos.end());

  fs::create_directories(args.out / "shipped");
  for (const auto& [pixels, photo] : photos) {
    const fs::path link = args.out / "shipped" / photo.filename();
    if (!fs::exists(link)) fs::create_symlink(fs::absolute(photo), link);
  }
  const size_t sources = std::min(photos.size(), static_cast<size_t>(args.sources));
  for (size_t i = 0; i < sources; ++i) {
    const fs::path& photo = photos[i].second;
    const VImage full = VImage::new_from_file(photo.c_str()).autorot();
    for (const int long_side : kLongSides) {
      const double scale = static_cast<double>(long_side) / std::max(full.width(), full.height());
      if (scale > 1.0) continue;
      // Made once per size (Lanczos), then written in every format.
      VImage sized;
      for (const Format& format : kFormats) {
        const fs::path folder = args.out / (std::string(format.name) + "-" + std::to_string(long_side));
        const fs::path file = folder / (photo.stem().string() + format.extension);
        if (fs::exists(file)) continue;
        if (sized.is_null()) sized = full.resize(scale, VImage::option()->set("kernel", VIPS_KERNEL_LANCZOS3)).copy_memory();
        fs::create_directories(folder);
        try {
          save(sized, format, file);
          std::fprintf(stderr, "bench_decode: made %s\n", file.c_str());
        } catch (const vips::VError& error) {
          std::fprintf(stderr, "bench_decode: cannot write %s: %s\n", file.c_str(), error.what());
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// time

double process_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

double mean_abs_difference(const std::vector<uint8_t>& a, const fs::path& reference_file) {
  std::ifstream in(reference_file, std::ios::binary);
  if (!in) return -1;
  const std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (b.size() != a.size()) return -1;
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::abs(static_cast<int>(a[i]) - static_cast<uint8_t>(b[i]));
  return sum / static_cast<double>(a.size()) / 255.0;
}

void time_files(const Args& args) {
  if (args.files.empty()) die("time needs --files");
  imgsearchd::PreprocessOptions options;
  options.resolution = args.resolution;
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(args.files)) {
    if (fs::is_regular_file(entry.path())) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    const std::string key = file.lexically_relative(args.files).string();
    double best_cpu = 1e300, best_wall = 1e300;
    int width = 0, height = 0;
    for (int round = 0; round < args.repeat; ++round) {
      const double cpu_start = process_cpu_ms();
      const auto wall_start = std::chrono::steady_clock::now();
      const imgsearchd::ImageLoadResult loaded = imgsearchd::load_image_for_clip(file, options);
      const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall_start).count();
      const double cpu = process_cpu_ms() - cpu_start;
      if (!loaded.ok()) die(loaded.error);
      width = loaded.image->source_width;
      height = loaded.image->source_height;
      best_cpu = std::min(best_cpu, cpu);
      best_wall = std::min(best_wall, wall);
    }
    double difference = -1;
    if (!args.reference.empty()) {
      const imgsearchd::RgbCrop crop = imgsearchd::load_rgb_crop(file, options);
      difference = mean_abs_difference(crop.hwc, args.reference / (key + ".crop.u8"));
    }
    std::printf("{\"file\": \"%s\", \"width\": %d, \"height\": %d, \"bytes\": %ju, \"core_ms\": %.2f, \"wall_ms\": %.2f, "
                "\"mad_vs_pillow_full\": %.5f}\n",
                key.c_str(), width, height, static_cast<uintmax_t>(fs::file_size(file)), best_cpu, best_wall,
                difference);
    std::fflush(stdout);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::fprintf(stderr, "bench_decode: peak RSS %.1f MB\n", usage.ru_maxrss / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  imgsearchd::init_image_library(argv[0]);
  if (args.mode == "make") {
    make(args);
  } else if (args.mode == "time") {
    time_files(args);
  } else {
    die("unknown mode " + args.mode + " (make or time)");
  }
  return 0;
}
