// The route table: every route of the API, one line each.
#include "api/routes.h"

namespace imgsearchd::api {

const std::vector<Route>& route_table() {
  static const std::vector<Route> routes = {
      // method  path                             handler                  needs_token
      {"GET",  "/api/search",                     search_by_query_string,  true},
      {"POST", "/api/search",                     search_by_json,          true},
      {"POST", "/api/search/image",               search_by_upload,        true},
      {"GET",  "/api/images/{id}",                image_metadata,          true},
      {"GET",  "/api/images/{id}/file",           image_file,              true},
      {"GET",  "/api/images/{id}/thumbnail",      image_thumbnail,         true},
      {"GET",  "/api/images/{id}/similar",        similar_images,          true},
      {"POST", "/api/duplicates",                 start_duplicates,        true},
      {"GET",  "/api/duplicates",                 duplicates_progress,     true},
      {"GET",  "/api/status",                     service_status,          true},
      {"POST", "/api/rescan",                     rescan,                  true},
      {"GET",  "/health",                         health,                  false},
      {"GET",  "/metrics",                        metrics,                 true},
      {"GET",  "/openapi.json",                   openapi_document,        true},
      {"GET",  "/",                               web_page,                false},
      {"GET",  "/web/app.js",                     web_asset,               false},
      {"GET",  "/web/style.css",                  web_asset,               false},
  };
  return routes;
}

std::string route_pattern(const std::string& path) {
  std::string pattern;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      i = path.find('}', i);
      pattern += "([^/]+)";
    } else if (path[i] == '.') {
      pattern += "\\.";
    } else {
      pattern += path[i];
    }
  }
  return pattern;
}

}  // namespace imgsearchd::api
