// Re-scan speed of an unchanged tree, the figure DESIGN.md asks for
// (target: >= 50,000 files/s, no file read).
//
// Makes a tree of tiny files (named like photos, not real images), scans it
// once to fill an in-memory catalogue of stat signatures, then scans it again
// and compares every file's signature with the catalogue, as the daemon's
// reconcile scan does. Prints the files/s of that second scan and its ratio to
// the target. The page cache is warm (the tree was just made), as it is for a
// running daemon's periodic scans.
//
// Then the same through the real indexing pipeline (run_indexing): a first
// run records every file in an SQLite catalogue (the tiny files are not
// images, so each is recorded as failed after one read), and a second run of
// the unchanged tree loads the catalogue's known files, scans and compares,
// and reads nothing: the fast path `imgsearchd index` takes, end to end.
// Last, every folder is renamed and the pipeline run again: each file takes
// its old path's record by its stat signature, and none is read.
//
// usage: bench_rescan [--files N] [--dir PARENT] [--keep]
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <unordered_map>

#include "indexer/model/clip_model.h"
#include "indexer/image/image_loader.h"
#include "indexer/pipeline/indexing_pipeline.h"
#include "indexer/scan/scanner.h"
#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kTargetFilesPerSecond = 50'000;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// User and system CPU time of this process: on a busy machine wall time
// includes waiting for a core; CPU time shows the work itself.
double cpu_seconds() {
  struct rusage usage;
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_rescan: %s\n", message.c_str());
  std::exit(1);
}

// 20 top folders x 10 sub-folders, files spread evenly: like a photo library
// sorted by year and event.
size_t make_tree(const std::filesystem::path& root, size_t file_count) {
  constexpr size_t kTop = 20, kSub = 10, kFolders = kTop * kSub;
  const size_t per_folder = (file_count + kFolders - 1) / kFolders;
  size_t made = 0;
  char name[64];
  for (size_t t = 0; t < kTop && made < file_count; ++t) {
    for (size_t s = 0; s < kSub && made < file_count; ++s) {
      std::snprintf(name, sizeof name, "%04zu/event-%02zu", 2000 + t, s);
      const std::filesystem::path folder = root / name;
      std::filesystem::create_directories(folder);
      const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (folder_fd < 0) die("cannot open " + folder.string() + ": " + std::strerror(errno));
      for (size_t i = 0; i < per_folder && made < file_count; ++i, ++made) {
        std::snprintf(name, sizeof name, "IMG_%06zu.jpg", made);
        const int fd = ::openat(folder_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) die("cannot create " + (folder / name).string() + ": " + std::strerror(errno));
        ::close(fd);
      }
      ::close(folder_fd);
    }
  }
  return made;
}

// The pipeline needs a model; nothing here is an image, so it is never called.
class NoModel : public imgsearchd::ClipModel {
 public:
  NoModel() {
    info_.image_resolution = 32;
    info_.embed_dim = 8;
    info_.fingerprint = "none";
  }
  const imgsearchd::ModelInfo& info() const override { return info_; }
  std::vector<float> encode_images(const float*, size_t) override { die("the model was called on a non-image"); }
  std::vector<float> encode_texts(const std::vector<std::vector<int32_t>>&) override { return {}; }

 private:
  imgsearchd::ModelInfo info_;
};

imgsearchd::IndexingSummary index_tree(const std::filesystem::path& root, const std::filesystem::path& data) {
  imgsearchd::Catalog catalog = imgsearchd::Catalog::open(data / "catalog.db");
  NoModel model;
  const imgsearchd::ModelId id = catalog.model("none", "none", model.info().embed_dim);
  imgsearchd::OpenedIndex opened = imgsearchd::VectorIndex::open(data / "index.faiss", catalog, id);
  imgsearchd::IndexingOptions options;
  options.scan.roots = {root};
  imgsearchd::PreprocessOptions preprocess;
  preprocess.resolution = model.info().image_resolution;
  imgsearchd::IndexingTarget target{catalog, id, &opened.index};
  return imgsearchd::run_indexing(target, model, preprocess, options);
}

// The same re-scan through run_indexing, with a real catalogue.
void rescan_through_pipeline(const std::filesystem::path& root, size_t made) {
  imgsearchd::init_image_library("bench_rescan");
  const std::filesystem::path data = root.string() + "-data";
  std::filesystem::remove_all(data);
  const imgsearchd::IndexingSummary first = index_tree(root, data);
  std::printf("pipeline, first run: %llu files recorded (%llu failed as not images) in %.2f s\n",
              static_cast<unsigned long long>(first.counts.scanned), static_cast<unsigned long long>(first.counts.failed),
              first.seconds);
  const double cpu_start = cpu_seconds();
  const imgsearchd::IndexingSummary again = index_tree(root, data);
  const double cpu = cpu_seconds() - cpu_start;
  const double rate = static_cast<double>(again.counts.scanned) / again.seconds;
  std::printf("pipeline re-run of the unchanged tree: %llu files, %llu unchanged, %llu read, in %.3f s "
              "(%.3f s of CPU, catalogue load included)\n",
              static_cast<unsigned long long>(again.counts.scanned),
              static_cast<unsigned long long>(again.counts.unchanged),
              static_cast<unsigned long long>(again.counts.hashed), again.seconds, cpu);
  std::printf("pipeline re-scan rate: %.0f files/s; target %.0f files/s; ratio %.2f\n", rate, kTargetFilesPerSecond,
              rate / kTargetFilesPerSecond);
  if (again.counts.unchanged != made || again.counts.hashed != 0) std::printf("WARNING: expected every file unchanged and none read\n");

  // Every top folder renamed: each file is found under a new path with the
  // signature of its old one, and takes its record without being read.
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    std::filesystem::rename(entry.path(), entry.path().string() + "-renamed");
  }
  const imgsearchd::IndexingSummary renamed = index_tree(root, data);
  std::printf("pipeline run after renaming every folder: %llu files, %llu taken over without a read, %llu read, "
              "%llu old paths removed, in %.3f s (%.0f files/s)\n",
              static_cast<unsigned long long>(renamed.counts.scanned),
              static_cast<unsigned long long>(renamed.counts.reattached),
              static_cast<unsigned long long>(renamed.counts.hashed),
              static_cast<unsigned long long>(renamed.counts.removed), renamed.seconds,
              static_cast<double>(renamed.counts.scanned) / renamed.seconds);
  if (renamed.counts.reattached != made || renamed.counts.hashed != 0) {
    std::printf("WARNING: expected every renamed file taken over and none read\n");
  }
  std::filesystem::remove_all(data);
}

}  // namespace

int main(int argc, char** argv) {
  size_t file_count = 100'000;
  std::filesystem::path parent = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--files" && i + 1 < argc) {
      file_count = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--dir" && i + 1 < argc) {
      parent = argv[++i];
    } else if (arg == "--keep") {
      keep = true;
    } else {
      die("unknown argument " + arg + "; usage: bench_rescan [--files N] [--dir PARENT] [--keep]");
    }
  }

  std::string pattern = (parent / "imgsearchd-rescan-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) die("cannot make a folder in " + parent.string() + ": " + std::strerror(errno));
  const std::filesystem::path root = pattern;

  auto start = Clock::now();
  const size_t made = make_tree(root, file_count);
  std::printf("tree: %zu tiny files in 200 folders under %s, made in %.2f s\n", made, root.c_str(),
              seconds_since(start));

  imgsearchd::ScanOptions options;
  options.roots = {root};

  // First scan: fills the catalogue (path -> signature).
  std::unordered_map<std::string, imgsearchd::StatSignature> catalogue;
  catalogue.reserve(made);
  start = Clock::now();
  imgsearchd::scan(options, [&](const imgsearchd::ScannedFile& file) {
    catalogue.emplace(file.path, file.signature);
    return true;
  });
  const double first_seconds = seconds_since(start);
  std::printf("first scan: %zu files in %.3f s (%.0f files/s)\n", catalogue.size(), first_seconds,
              static_cast<double>(catalogue.size()) / first_seconds);

  // Second scan of the unchanged tree, each signature compared with the catalogue.
  size_t unchanged = 0, changed = 0, added = 0;
  const double cpu_start = cpu_seconds();
  start = Clock::now();
  const imgsearchd::ScanSummary summary = imgsearchd::scan(options, [&](const imgsearchd::ScannedFile& file) {
    const auto it = catalogue.find(file.path);
    if (it == catalogue.end()) {
      ++added;
    } else if (it->second == file.signature) {
      ++unchanged;
    } else {
      ++changed;
    }
    return true;
  });
  const double rescan_seconds = seconds_since(start);
  const double rescan_cpu_seconds = cpu_seconds() - cpu_start;
  const size_t missing = catalogue.size() - unchanged - changed;
  const double rate = static_cast<double>(summary.files) / rescan_seconds;
  std::printf("re-scan with signature comparison: %llu files (%zu unchanged, %zu changed, %zu new, %zu missing) "
              "in %.3f s (%.3f s of CPU)\n",
              static_cast<unsigned long long>(summary.files), unchanged, changed, added, missing, rescan_seconds,
              rescan_cpu_seconds);
  std::printf("re-scan rate: %.0f files/s (%.0f per CPU-second); target %.0f files/s; ratio %.2f\n", rate,
              static_cast<double>(summary.files) / rescan_cpu_seconds, kTargetFilesPerSecond,
              rate / kTargetFilesPerSecond);
  if (unchanged != made) std::printf("WARNING: expected every file unchanged\n");

  rescan_through_pipeline(root, made);

  if (!keep) std::filesystem::remove_all(root);
  return 0;
}
