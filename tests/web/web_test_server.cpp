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
// A POST /api/rescan says "RESCAN ROOT" (ROOT "*" for all) and indexes, as
// the "index" command does ("INDEXED TOTAL" once done).
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
#include "daemon/service/service_status_json.h"
#include "indexer/pipeline/indexing_pipeline.h"
#include "indexer/search/query_engine.h"
#include "indexer/session/model_session.h"
#include "store/catalog/catalog.h"
#include "store/core/errors.h"
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

std::mutex g_output;
void say(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_output);
  std::cout << line << std::endl;
}

// The run in flight (or the photos added and not yet indexed), for the
// status route.
struct Progress {
  std::mutex mutex;
  bool running = false;
  uint64_t waiting = 0;  // added, not yet indexed
  uint64_t done = 0, total = 0;
  double seconds = 0;
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
    std::lock_guard<std::mutex> lock(indexer_mutex_);
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
      progress_.done = p.done;
      progress_.total = p.total;
      progress_.seconds = p.seconds;
    });
    std::lock_guard<std::mutex> lock(progress_.mutex);
    progress_.running = false;
    progress_.waiting = 0;
    progress_.done = progress_.total = 0;
    progress_.seconds = 0;
  }

  // The status in the service's own shape (daemon/service/service_status_json.h,
  // as GET /api/status of `imgsearchd serve` answers it), from the run this
  // server drives instead of a live indexer.
  nlohmann::json status() {
    const Catalog reader = Catalog::open_read_only(catalog_path(data_dir_));
    const CatalogCounts counts = reader.counts();
    const std::vector<FailedFile> failures = reader.failed_files();
    LiveStatus live;
    live.startup_reconcile_done = true;
    live.model = WEB_TEST_MODEL;  // the model setting, as serve reports it
    live.model_loaded = true;
    live.files_ok = counts.files_ok;
    live.files_failed = counts.files_failed;
    live.searchable = index_->size();
    live.vectors = index_->size();
    live.roots = {LiveRootStatus{photos_dir_.string(), "inotify", 1, 0, ""}};
    std::lock_guard<std::mutex> lock(progress_.mutex);
    live.state = progress_.running ? "indexing" : "watching";
    live.pending_paths = progress_.running ? 0 : progress_.waiting;
    if (progress_.running) live.run = LiveRunProgress{true, progress_.done, progress_.total, progress_.seconds};
    return service_status_json(live, "cpu", &failures);
  }

  ApiContext context() {
    ApiContext context;
    context.catalog_file = catalog_path(data_dir_);
    context.readiness = [this] { return ApiReadiness{engine_, {}}; };
    context.status = [this] { return status(); };
    // As the service does: a reconcile of the folder, in the background.
    context.rescan = [this](const std::optional<std::string>& root) {
      if (root && *root != photos_dir_.string()) throw NotFound("'" + *root + "' is not one of the indexed roots");
      say("RESCAN " + root.value_or("*"));
      index([](uint64_t total) { say("INDEXED " + std::to_string(total)); });
      return nlohmann::json{{"roots", {photos_dir_.string()}}};
    };
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
  std::mutex indexer_mutex_;  // index() from stdin's thread and from a rescan request
  std::thread indexer_;
};

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
