// The HTTP API of a running imgsearchd (DESIGN.md, "API"; README, "HTTP API"):
// JSON search, image metadata, files and thumbnails by id, status, rescan,
// health, Prometheus metrics, the OpenAPI document and the web page.
//
//   ApiOptions options;                    // from the api.* configuration keys
//   ApiContext context{...};               // what the service gives the API
//   ApiServer server(options, context);    // checks the listen policy
//   server.start();                        // binds, then answers on its own threads
//   ...
//   server.stop();                         // or the destructor
//
// Policy: loopback by default; any other address needs a token, and then every
// request but GET /health and GET / needs `Authorization: Bearer TOKEN`
// (compared in constant time). Requests whose Host header is neither the
// served address nor localhost are refused (DNS rebinding), and so are
// cross-origin requests unless their origin is in `cors_origins`. No part of
// a request is ever a file system path: files are served by id, from the
// paths the catalogue holds.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/metrics.h"
#include "indexer/search/query_engine.h"
#include "store/core/catalog_types.h"

namespace imgsearchd {

struct ApiOptions {
  std::string host = "127.0.0.1";  // a loopback address, or any other with a token ("0.0.0.0", "::")
  int port = 7878;                 // 0 = any free port (see ApiServer::port)
  std::string token;               // empty = none (refused unless the host is loopback)
  std::vector<std::string> cors_origins;  // e.g. "http://localhost:3000"; empty = CORS off
  std::vector<std::string> allowed_hosts;  // Host header names accepted besides localhost and `host`
  size_t max_body_bytes = 32 * 1024 * 1024;  // larger bodies get 413
  int threads = 4;                           // requests answered at once
  size_t max_queued_connections = 64;        // waiting beyond the busy threads; more get 503
  std::filesystem::path thumbnail_dir;       // thumbnail cache; empty = made on every request
  std::filesystem::path web_dir;             // serves web_dir/index.html at /; empty = the page built in
  // What a search gets for each option its request does not give (k,
  // min_score, collapse, diversity, normalise, pool): the configuration's
  // `search:` section. Checked by the constructor.
  SearchOptions search_defaults;

  struct Testing {
    // Called on the duplicates job's thread before it searches (a test holds
    // a job there to see it running).
    std::function<void()> before_duplicates_search;
  } testing;
};

// "127.0.0.1:7878", "[::1]:7878", "localhost:7878" or "0.0.0.0:7878" -> host
// and port. Throws InvalidInput naming `key` (e.g. "api.listen").
struct ListenAddress {
  std::string host;
  int port = 0;
};
ListenAddress parse_listen_address(const std::string& text, const std::string& key = "api.listen");

// The token from api.token or api.token_file (at most one of the two): the
// file's content without surrounding white space. Empty when neither is set.
// Throws InvalidInput naming the key or the file (both set, unreadable,
// empty).
std::string load_api_token(const std::string& token, const std::filesystem::path& token_file);

// Tokens shorter than this are refused beyond loopback (guessable).
constexpr size_t kMinTokenLength = 16;

// Whether searches can be answered now: the engine, or why not.
struct ApiReadiness {
  std::shared_ptr<QueryEngine> engine;  // null while the model loads or is missing
  std::string reason;                   // set when engine is null ("loading the model ViT-B-32", ...)
};

// What the service gives the API. Each callback may be called from many
// request threads at once.
struct ApiContext {
  std::function<ApiReadiness()> readiness;
  // The catalogue; the API opens its own read-only connections for metadata.
  CatalogLocation catalog_file;
  // The status library's data as JSON (GET /api/status). Optional.
  std::function<nlohmann::json()> status;
  // Starts a reconcile scan of one root (an indexed root folder) or of all
  // (nullopt) and returns what was queued, e.g. {"roots": [...]}; throws
  // NotFound for a folder that is not a root. Optional (503 without).
  std::function<nlohmann::json(const std::optional<std::string>& root)> rescan;
  // The service's figures, read at each scrape of GET /metrics. Optional.
  std::function<ServiceMetrics()> service_metrics;
  // The registry GET /metrics renders; the server makes one if null.
  std::shared_ptr<MetricsRegistry> metrics;
};

class ApiServer {
 public:
  // Throws InvalidInput naming api.listen / api.token when the host is not
  // loopback and no token (or a token shorter than kMinTokenLength) is set,
  // or an option is out of range.
  ApiServer(ApiOptions options, ApiContext context);
  ~ApiServer();  // stops
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds and starts answering on background threads. Throws Unavailable
  // naming the address when it cannot be bound.
  void start();
  // Stops accepting, finishes the requests in flight, returns. Idempotent.
  void stop();

  int port() const;  // the bound port (the chosen one when options.port was 0)
  MetricsRegistry& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgsearchd
