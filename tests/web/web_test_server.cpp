// The service the web page test (page_test.mjs) drives a browser against: real
// COCO photos copied to a scratch folder, indexed by the real pipeline with a
// small random-weight CLIP model (the indexing_models fixture), and served by
// the real ApiServer on a free loopback port.
//
//   web_test_server SCRATCH_DIR [TOKEN]
//
// With TOKEN, every request but the page's own files needs
// "Authorization: Bearer TOKEN" (api.token). Bodies are limited to 2 MiB.
//
// Prints "URL http://127.0.0.1:PORT/" once it answers, then reads commands
// from standard input, one a line, and answers each on standard output:
//
//   add N    copies the next N photos into the indexed folder; the status
//            reports them as waiting (as a watcher would)  -> "ADDED N"
//   index    indexes what waits, on a background thread; the status follows
//            the run                                        -> "INDEXED TOTAL"
//
// It serves until standard input closes (or it is killed). Logs go to
// standard error.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/server.h"
#include "indexer/pipeline/indexing_pipeline.h"
#include "indexer/search/query_engine.h"
#include "indexer/session/model_session.h"
#include "store/catalog/catalog.h"
#include "store/data/data_dir.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;

constexpr size_t kFirstPhotos = 40;  // more than one page of the page's 30
constexpr size_t kMaxBodyBytes = 2 * 1024 * 1024;  // api.max_body_bytes: an upload above it gets 413

std::vector<fs::path> coco_photos() {
  std::vector<fs::path> photos;
  for (const auto& entry : fs::directory_iterator(fs::path(IMGSEARCHD_SHARED_DIR) / "testdata" / "coco-val")) {
    if (entry.path().extension() == ".jpg") photos.push_back(entry.path());
  }
  std::sort(photos.begin(), photos.end());
  return photos;
}

// What the status route reports: the catalogue's counts plus the run in
// flight (or the photos added and not yet indexed).
struct Progress {
  std::mutex mutex;
  bool running = false;
  uint64_t waiting = 0;
  double rate = 0;
  double eta_seconds = 0;
};

class WebTestService {
 public:
  WebTestService(fs::path scratch, std::string token)
      : scratch_(std::move(scratch)), photos_dir_(scratch_ / "photos"), data_dir_(scratch_ / "data") {
    fs::remove_all(scratch_);
    fs::create_directories(photos_dir_);
    fs::create_directories(data_dir_);
    all_photos_ = coco_photos();
    if (all_photos_.size() < kFirstPhotos) throw std::runtime_error("too few photos in the shared coco-val folder");
    copy_next(kFirstPhotos);
    // A file that is not an image: a failure with its reason in the status.
    std::ofstream(photos_dir_ / "notes-not-a-photo.jpg") << "a shopping list, not a photo\n";

    ModelSessionOptions session_options;
    session_options.model = WEB_TEST_MODEL;
    session_options.runtime.threads = 1;
    session_ = std::make_unique<ModelSession>(session_options);
    writer_ = std::make_unique<Catalog>(Catalog::open(catalog_path(data_dir_)));
    model_ = writer_->model(session_->name(), session_->info().fingerprint, session_->info().embed_dim);
    index_file_ = vector_index_path(data_dir_, model_);
    index_ = std::make_unique<VectorIndex>(std::move(VectorIndex::open(index_file_, *writer_, model_).index));
    run_indexing_now();
    engine_ = std::make_shared<QueryEngine>(catalog_path(data_dir_), *index_, *session_);

    ApiOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.thumbnail_dir = scratch_ / "thumbnails";
    options.token = std::move(token);
    options.max_body_bytes = kMaxBodyBytes;
    server_ = std::make_unique<ApiServer>(options, context());
    server_->start();
  }

  ~WebTestService() {
    server_.reset();
    if (indexer_.joinable()) indexer_.join();
  }

  int port() const { return server_->port(); }

  size_t add(size_t count) {
    const size_t added = copy_next(count);
    std::lock_guard<std::mutex> lock(progress_.mutex);
    progress_.waiting += added;
    return added;
  }

  // Indexes on a background thread; `done` is called with the number of
  // images indexed once the run is over.
  void index(std::function<void(uint64_t)> done) {
    if (indexer_.joinable()) indexer_.join();
    indexer_ = std::thread([this, done] {
      run_indexing_now();
      done(Catalog::open_read_only(catalog_path(data_dir_)).counts().files_ok);
    });
  }

 private:
  size_t copy_next(size_t count) {
    size_t copied = 0;
    for (; copied < count && next_photo_ < all_photos_.size(); ++copied, ++next_photo_) {
      char name[32];
      std::snprintf(name, sizeof name, "photo-%02zu.jpg", next_photo_);
      fs::copy_file(all_photos_[next_photo_], photos_dir_ / name, fs::copy_options::overwrite_existing);
    }
    return copied;
  }

  void run_indexing_now() {
    {
      std::lock_guard<std::mutex> lock(progress_.mutex);
      progress_.running = true;
    }
    IndexingOptions options;
    options.scan.roots = {photos_dir_};
    options.decode_threads = 2;
    options.batch_size = 4;  // several commits: the counts move during the run
    IndexingTarget target{*writer_, model_, index_.get()};
    run_indexing(target, session_->model(), session_->preprocess(), options, [this](const IndexingProgress& p) {
      if (p.phase != IndexingProgress::Phase::indexing) return;
      std::lock_guard<std::mutex> lock(progress_.mutex);
      progress_.waiting = p.total > p.done ? p.total - p.done : 0;
      progress_.rate = p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0;
      progress_.eta_seconds = progress_.rate > 0 ? static_cast<double>(progress_.waiting) / progress_.rate : 0;
    });
    std::lock_guard<std::mutex> lock(progress_.mutex);
    progress_.running = false;
    progress_.waiting = 0;
    progress_.rate = 0;
    progress_.eta_seconds = 0;
  }

  nlohmann::json status() {
    const Catalog reader = Catalog::open_read_only(catalog_path(data_dir_));
    const CatalogCounts counts = reader.counts();
    nlohmann::json failures = nlohmann::json::array();
    for (const FailedFile& file : reader.failed_files()) {
      failures.push_back({{"path", file.path}, {"reason", file.reason}});
    }
    std::lock_guard<std::mutex> lock(progress_.mutex);
    const bool busy = progress_.running || progress_.waiting > 0;
    nlohmann::json status = {
        {"state", busy ? "indexing" : "idle"},
        {"indexed", counts.files_ok},
        {"pending", progress_.waiting},
        {"failed", counts.files_failed},
        {"model", session_->name()},
        {"device", "cpu"},
        {"roots", {{{"path", photos_dir_.string()}, {"watcher", "watching (inotify)"}}}},
        {"recent_failures", failures},
    };
    if (progress_.running && progress_.rate > 0) {
      status["rate"] = progress_.rate;
      status["eta_seconds"] = progress_.eta_seconds;
    }
    return status;
  }

  ApiContext context() {
    ApiContext context;
    context.catalog_file = catalog_path(data_dir_);
    context.readiness = [this] { return ApiReadiness{engine_, {}}; };
    context.status = [this] { return status(); };
    return context;
  }

  const fs::path scratch_, photos_dir_, data_dir_;
  std::vector<fs::path> all_photos_;
  size_t next_photo_ = 0;
  std::unique_ptr<ModelSession> session_;
  std::unique_ptr<Catalog> writer_;
  ModelId model_ = 0;
  fs::path index_file_;
  std::unique_ptr<VectorIndex> index_;
  std::shared_ptr<QueryEngine> engine_;
  Progress progress_;
  std::unique_ptr<ApiServer> server_;
  std::thread indexer_;
};

std::mutex g_output;
void say(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_output);
  std::cout << line << std::endl;
}

}  // namespace
}  // namespace imgsearchd

int main(int argc, char** argv) {
  using namespace imgsearchd;
  if (argc != 2 && argc != 3) {
    std::cerr << "usage: web_test_server SCRATCH_DIR [TOKEN]\n";
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("web_test_server"));
  try {
    WebTestService service{std::filesystem::path(argv[1]), argc == 3 ? argv[2] : ""};
    say("URL http://127.0.0.1:" + std::to_string(service.port()) + "/");
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream words(line);
      std::string command;
      words >> command;
      if (command == "add") {
        size_t count = 0;
        words >> count;
        say("ADDED " + std::to_string(service.add(count)));
      } else if (command == "index") {
        service.index([](uint64_t total) { say("INDEXED " + std::to_string(total)); });
      } else if (!command.empty()) {
        say("UNKNOWN " + command);
      }
    }
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "web_test_server: " << error.what() << "\n";
    return 1;
  }
}
