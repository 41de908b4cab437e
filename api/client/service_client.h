// A client of a running imgsearchd service's HTTP API (api/server.h), for
// the command line: health, status, searches (text, indexed id, image file)
// and rescans, answered in the query engine's own types so that a caller
// prints a service's answer exactly as it prints a direct one.
//
//   ServiceClient service("http://127.0.0.1:7878", token);
//   SearchPage page = service.search_text("a red bicycle", {.k = 20});
//
// Errors: when nothing answers (refused, timed out) it throws
// ServiceUnreachable, so a caller can fall back to reading the index
// itself; an answer that is an API error throws the typed error of its
// status (store/core/errors.h) with the service's message. A missing or
// wrong token is ServiceRefused naming the service and the api.token keys.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "indexer/search/query_engine.h"
#include "store/core/errors.h"

namespace imgsearchd {

// Nothing answered at the service's address.
struct ServiceUnreachable : Unavailable {
  using Unavailable::Unavailable;
};
// The service refused the request for want of the right token (401, 403).
struct ServiceRefused : Unavailable {
  using Unavailable::Unavailable;
};

struct ServiceClientOptions {
  // Short, so that a missing service costs little (loopback refuses at once;
  // this bounds a remote or firewalled address).
  std::chrono::milliseconds connect_timeout{1000};
  // Health and status answer at once from a working service: past this it
  // counts as not answering (a stopped or hung process).
  std::chrono::milliseconds quick_timeout{5000};
  // Searches may wait behind a commit and run the model.
  std::chrono::milliseconds search_timeout{120'000};
};

class ServiceClient {
 public:
  // base_url: "http://127.0.0.1:7878" (no trailing slash). token: the
  // bearer token, empty for none.
  ServiceClient(std::string base_url, std::string token, ServiceClientOptions options = {});
  ~ServiceClient();
  ServiceClient(const ServiceClient&) = delete;
  ServiceClient& operator=(const ServiceClient&) = delete;

  const std::string& url() const { return base_url_; }

  // GET /health: {"status": "ok"}; Unavailable with the reason while the
  // service cannot answer searches (the model loads or is missing).
  nlohmann::json health();
  // GET /api/status: the service's own status.
  nlohmann::json status();
  // POST /api/search with a text or an indexed id.
  SearchPage search_text(const std::string& text, const SearchOptions& options);
  SearchPage search_id(VectorId id, const SearchOptions& options);
  // POST /api/search/image with the file's bytes. NotFound naming the file
  // when it cannot be read.
  SearchPage search_image_file(const std::filesystem::path& file, const SearchOptions& options);
  // POST /api/rescan of every root (nullopt) or of one: what was queued,
  // {"roots": [...]}.
  nlohmann::json rescan(const std::optional<std::string>& root);

 private:
  struct Impl;
  std::string base_url_;
  std::unique_ptr<Impl> impl_;
};

// A search answer of the API as the query engine's page (ids from strings).
// Throws InternalError naming what is malformed.
SearchPage search_page_from_json(const nlohmann::json& answer);

}  // namespace imgsearchd
