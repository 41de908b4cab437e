// A real imgsearchd API on loopback over a real index: COCO photos copied to
// a scratch folder, indexed by the real pipeline with a small random-weight
// CLIP model (the indexing_models fixture), served by ApiServer on a free
// port, and reached with a real HTTP client.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/server.h"
#include "indexer/pipeline/indexing_pipeline.h"
#include "indexer/search/query_engine.h"
#include "indexer/session/model_session.h"
#include "tests/support/photos.h"
#include "store/catalog/catalog.h"
#include "store/core/errors.h"
#include "store/data/data_dir.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd::test {

// What the stand-in service behind the API does: readiness that a test
// switches, a status document, and rescans it records (or holds, to keep a
// request thread busy).
struct FakeService {
  std::mutex mutex;
  std::condition_variable changed;
  bool ready = true;
  std::string not_ready_reason = "loading the model small";
  std::vector<std::string> rescans;  // "*" for all
  bool hold_rescans = false;
  bool rescan_entered = false;
  std::vector<std::string> roots;
  ServiceMetrics metrics;  // what GET /metrics reads at each scrape
};

class ApiTest : public ::testing::Test {
 protected:
  static constexpr size_t kPhotos = 16;

  void SetUp() override {
    scratch_ = fresh_dir("api");
    photos_dir_ = scratch_ / "photos";
    photos_ = copy_photos(photos_dir_, kPhotos);
    data_dir_ = scratch_ / "data";
    fs::create_directories(data_dir_);
    service_.roots = {photos_dir_.string()};

    ModelSessionOptions session_options;
    session_options.model = indexing_model(1).string();
    session_options.runtime.threads = 1;
    session_ = std::make_unique<ModelSession>(session_options);
    writer_ = std::make_unique<Catalog>(Catalog::open(catalog_path(data_dir_)));
    model_ = writer_->model(session_->name(), session_->info().fingerprint, session_->info().embed_dim);
    index_file_ = vector_index_path(data_dir_, model_);
    index_ = std::make_unique<VectorIndex>(std::move(VectorIndex::open(index_file_, *writer_, model_).index));
    index_folders({photos_dir_});
    ASSERT_EQ(index_->size(), kPhotos);
    engine_ = std::make_shared<QueryEngine>(catalog_path(data_dir_), *index_, *session_);
  }

  void TearDown() override {
    server_.reset();
    clients_.clear();
  }

  IndexingSummary index_folders(const std::vector<fs::path>& roots, size_t batch_size = 8) {
    IndexingOptions options;
    options.scan.roots = roots;
    options.decode_threads = 2;
    options.batch_size = batch_size;
    IndexingTarget target{*writer_, model_, index_.get()};
    return run_indexing(target, session_->model(), session_->preprocess(), options);
  }

  ApiContext context() {
    ApiContext context;
    context.catalog_file = catalog_path(data_dir_);
    context.readiness = [this] {
      std::lock_guard<std::mutex> lock(service_.mutex);
      if (!service_.ready) return ApiReadiness{nullptr, service_.not_ready_reason};
      return ApiReadiness{engine_, {}};
    };
    context.status = [this] {
      const Catalog reader = Catalog::open_read_only(catalog_path(data_dir_));
      const CatalogCounts counts = reader.counts();
      return nlohmann::json{{"indexed", counts.files_ok}, {"failed", counts.files_failed}, {"model", session_->name()}};
    };
    context.service_metrics = [this] {
      std::lock_guard<std::mutex> lock(service_.mutex);
      return service_.metrics;
    };
    context.rescan = [this](const std::optional<std::string>& root) {
      std::unique_lock<std::mutex> lock(service_.mutex);
      if (root && std::find(service_.roots.begin(), service_.roots.end(), *root) == service_.roots.end()) {
        throw NotFound(*root + " is not an indexed root");
      }
      service_.rescans.push_back(root.value_or("*"));
      service_.rescan_entered = true;
      service_.changed.notify_all();
      service_.changed.wait(lock, [this] { return !service_.hold_rescans; });
      return nlohmann::json{{"roots", root ? std::vector<std::string>{*root} : service_.roots}};
    };
    return context;
  }

  ApiOptions default_options() {
    ApiOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.thumbnail_dir = scratch_ / "thumbnails";
    options.max_body_bytes = kMaxBody;
    return options;
  }

  void start_server(ApiOptions options) {
    server_.reset();
    server_ = std::make_unique<ApiServer>(std::move(options), context());
    server_->start();
  }
  void start_server() { start_server(default_options()); }

  httplib::Client& client() {
    if (clients_.empty()) clients_.push_back(new_client());
    return *clients_.front();
  }
  std::unique_ptr<httplib::Client> new_client() {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client->set_read_timeout(120, 0);
    return client;
  }

  static nlohmann::json body_json(const httplib::Result& result) {
    return nlohmann::json::parse(result->body);
  }

  // The error shape, its status and type, and a message naming the problem.
  void expect_error(const httplib::Result& result, int status, const std::string& type,
                    const std::string& message_part) {
    ASSERT_TRUE(result) << "no response: " << httplib::to_string(result.error());
    EXPECT_EQ(result->status, status) << result->body;
    EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
    const nlohmann::json body = nlohmann::json::parse(result->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << result->body;
    ASSERT_TRUE(body.contains("error")) << result->body;
    EXPECT_EQ(body["error"]["code"], status);
    EXPECT_EQ(body["error"]["type"], type);
    EXPECT_NE(body["error"]["message"].get<std::string>().find(message_part), std::string::npos)
        << "message: " << body["error"]["message"] << ", expected to contain: " << message_part;
    expect_healthy();
  }

  // After any error the service still answers.
  void expect_healthy() {
    httplib::Client fresh("127.0.0.1", server_->port());
    const httplib::Result health = fresh.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200) << health->body;
  }

  httplib::Result post_json(const nlohmann::json& body) {
    return client().Post("/api/search", body.dump(), "application/json");
  }

  // The catalogue's id of a photo.
  VectorId id_of(const fs::path& photo) {
    const Catalog reader = Catalog::open_read_only(catalog_path(data_dir_));
    const std::optional<VectorId> id = reader.vector_id_of(photo.string());
    EXPECT_TRUE(id) << photo;
    return id.value_or(0);
  }

  static std::vector<std::string> result_ids(const nlohmann::json& page) {
    std::vector<std::string> ids;
    for (const auto& result : page["results"]) ids.push_back(result["id"].get<std::string>());
    return ids;
  }

  static constexpr size_t kMaxBody = 1024 * 1024;

  fs::path scratch_, photos_dir_, data_dir_, index_file_;
  std::vector<fs::path> photos_;
  std::unique_ptr<ModelSession> session_;
  std::unique_ptr<Catalog> writer_;
  ModelId model_ = 0;
  std::unique_ptr<VectorIndex> index_;
  std::shared_ptr<QueryEngine> engine_;
  FakeService service_;
  std::unique_ptr<ApiServer> server_;
  std::vector<std::unique_ptr<httplib::Client>> clients_;
};

}  // namespace imgsearchd::test
