// The service routes: health and readiness, status, rescan, metrics, the
// OpenAPI document, the page, unknown routes.
#include "api_test_server.h"

namespace imgsearchd::test {
namespace {

class ServiceRoutesTest : public ApiTest {};

TEST_F(ServiceRoutesTest, HealthIsOkWhenReadyAnd503WithTheReasonOtherwise) {
  start_server();
  const httplib::Result ok = client().Get("/health");
  ASSERT_EQ(ok->status, 200);
  EXPECT_EQ(body_json(ok), nlohmann::json({{"status", "ok"}}));
  {
    std::lock_guard<std::mutex> lock(service_.mutex);
    service_.ready = false;
  }
  for (const char* path : {"/health", "/api/search?q=cat", "/api/images/1/similar"}) {
    SCOPED_TRACE(path);
    const httplib::Result waiting = client().Get(path);
    ASSERT_EQ(waiting->status, 503);
    const nlohmann::json body = body_json(waiting);
    EXPECT_EQ(body["error"]["type"], "unavailable");
    EXPECT_EQ(body["error"]["message"], "loading the model small");
  }
  EXPECT_EQ(post_json({{"text", "cat"}})->status, 503);
  // Status, metadata and the page still answer while the model loads.
  EXPECT_EQ(client().Get("/api/status")->status, 200);
  EXPECT_EQ(client().Get("/api/images/" + std::to_string(id_of(photos_[0])))->status, 200);
  EXPECT_EQ(client().Get("/")->status, 200);
  {
    std::lock_guard<std::mutex> lock(service_.mutex);
    service_.ready = true;
  }
  EXPECT_EQ(client().Get("/health")->status, 200);
  EXPECT_EQ(client().Get("/api/search?q=cat")->status, 200);
}

TEST_F(ServiceRoutesTest, StatusIsTheServicesDocument) {
  start_server();
  const httplib::Result result = client().Get("/api/status");
  ASSERT_EQ(result->status, 200);
  EXPECT_EQ(body_json(result)["indexed"], kPhotos);
  EXPECT_EQ(body_json(result)["model"], session_->name());
}

TEST_F(ServiceRoutesTest, RescanOfAllRootsOrOne) {
  start_server();
  const httplib::Result all = client().Post("/api/rescan", "", "application/json");
  ASSERT_EQ(all->status, 202) << all->body;
  EXPECT_EQ(body_json(all)["roots"], nlohmann::json::array({photos_dir_.string()}));
  const httplib::Result one =
      client().Post("/api/rescan", nlohmann::json({{"root", photos_dir_.string()}}).dump(), "application/json");
  ASSERT_EQ(one->status, 202) << one->body;
  // As curl -d sends it: labelled a form.
  const httplib::Result as_curl = client().Post(
      "/api/rescan", nlohmann::json({{"root", photos_dir_.string()}}).dump(), "application/x-www-form-urlencoded");
  ASSERT_EQ(as_curl->status, 202) << as_curl->body;
  EXPECT_EQ(service_.rescans, (std::vector<std::string>{"*", photos_dir_.string(), photos_dir_.string()}));

  expect_error(client().Post("/api/rescan", "{\"root\": \"/not/a/root\"}", "application/json"), 404, "not_found",
               "/not/a/root is not an indexed root");
  expect_error(client().Post("/api/rescan", "{\"root\": 5}", "application/json"), 400, "invalid_request",
               "root must be a string");
  expect_error(client().Post("/api/rescan", "{\"root\"", "application/json"), 400, "invalid_request", "not valid JSON");
  expect_error(client().Post("/api/rescan", "{\"path\": \"/\"}", "application/json"), 400, "invalid_request",
               "unknown field 'path'");
  EXPECT_EQ(service_.rescans.size(), 3u);
}

TEST_F(ServiceRoutesTest, MetricsCountRequestsByRouteAndStatusAndShowTheServicesFigures) {
  start_server();
  ASSERT_EQ(client().Get("/api/search?q=cat")->status, 200);
  ASSERT_EQ(client().Get("/api/search?q=cat&k=0")->status, 400);
  ASSERT_EQ(client().Get("/nothing/here")->status, 404);
  {
    std::lock_guard<std::mutex> lock(service_.mutex);
    service_.metrics.queue_depth = 7;
    service_.metrics.files_failed = 3;
    service_.metrics.images_embedded = 42;
    service_.metrics.model_batch_seconds = HistogramSnapshot{{0.25, 0.5}, {0, 1, 0}, 0.3};
    service_.metrics.watcher_events = 5;
    service_.metrics.watcher_overflows = 1;
    service_.metrics.vectors = kPhotos;
  }
  // Two searches for one text: the second from the text-embedding cache.
  ASSERT_EQ(client().Get("/api/search?q=a%20dog")->status, 200);
  ASSERT_EQ(client().Get("/api/search?q=A%20Dog")->status, 200);
  const httplib::Result result = client().Get("/metrics");
  ASSERT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  const std::string& text = result->body;
  for (const std::string line : {
           "imgsearchd_http_requests_total{route=\"GET /api/search\",status=\"200\"} 3",
           "imgsearchd_http_requests_total{route=\"GET /api/search\",status=\"400\"} 1",
           "imgsearchd_http_requests_total{route=\"unmatched\",status=\"404\"} 1",
           "imgsearchd_http_request_duration_seconds_count{route=\"GET /api/search\"} 4",
           "# TYPE imgsearchd_http_request_duration_seconds histogram",
           "imgsearchd_queue_depth 7",
           "imgsearchd_files{state=\"failed\"} 3",
           "imgsearchd_images_embedded_total 42",
           "imgsearchd_model_batch_seconds_bucket{le=\"0.5\"} 1",
           "imgsearchd_watcher_events_total 5",
           "imgsearchd_watcher_overflows_total 1",
           "imgsearchd_index_vectors 16",
           "imgsearchd_text_cache_hits_total 1",
           "imgsearchd_ready 1",
       }) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << "missing: " << line << "\n" << text;
  }
}

TEST_F(ServiceRoutesTest, OpenApiDocumentIsServedAsKeptInTheRepository) {
  start_server();
  const httplib::Result result = client().Get("/openapi.json");
  ASSERT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(result->body, read_text(fs::path(IMGSEARCHD_SOURCE_DIR) / "api" / "openapi.json"));
  EXPECT_EQ(body_json(result)["openapi"].get<std::string>().substr(0, 2), "3.");
}

TEST_F(ServiceRoutesTest, ThePageIsServedAtTheRootWithoutOtherHosts) {
  start_server();
  const httplib::Result page = client().Get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<html"), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);

  // A page folder replaces the built-in page.
  fs::create_directories(scratch_ / "web");
  std::ofstream(scratch_ / "web" / "index.html") << "<html>from the folder</html>";
  ApiOptions options = default_options();
  options.web_dir = scratch_ / "web";
  start_server(options);
  clients_.clear();
  EXPECT_EQ(client().Get("/")->body, "<html>from the folder</html>");
}

TEST_F(ServiceRoutesTest, UnknownRoutesAndMethodsAreJson404) {
  start_server();
  expect_error(client().Get("/api/nothing"), 404, "not_found", "no route GET /api/nothing");
  expect_error(client().Get("/api/rescan"), 404, "not_found", "no route GET /api/rescan");
  expect_error(client().Post("/health", "", "text/plain"), 404, "not_found", "no route POST /health");
  expect_error(client().Get("/index.html"), 404, "not_found", "no route");
}

}  // namespace
}  // namespace imgsearchd::test
