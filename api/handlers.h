// Internal to imgsearchd_api: the route handlers, one file per group under
// api/handlers/. routes.cpp lists them; each runs inside a wrapper that turns
// any exception into the JSON error shape (api/errors.h).
#pragma once

#include <httplib.h>

#include "api/state.h"

namespace imgsearchd::api {

struct Call {
  ApiState& state;
  const httplib::Request& request;
  httplib::Response& response;
};

void respond_json(httplib::Response& response, const nlohmann::json& body, int status = 200);

// handlers/search.cpp
void search_by_query_string(Call& call);  // GET  /api/search?q=
void search_by_json(Call& call);          // POST /api/search
void search_by_upload(Call& call);        // POST /api/search/image
void similar_images(Call& call);          // GET  /api/images/{id}/similar

// handlers/duplicates.cpp
void start_duplicates(Call& call);     // POST /api/duplicates
void duplicates_progress(Call& call);  // GET  /api/duplicates

// handlers/images.cpp
void image_metadata(Call& call);   // GET /api/images/{id}
void image_file(Call& call);       // GET /api/images/{id}/file
void image_thumbnail(Call& call);  // GET /api/images/{id}/thumbnail

// handlers/service.cpp
void service_status(Call& call);  // GET  /api/status
void rescan(Call& call);          // POST /api/rescan
void health(Call& call);          // GET  /health
void metrics(Call& call);         // GET  /metrics

// handlers/documents.cpp
void openapi_document(Call& call);  // GET /openapi.json
void web_page(Call& call);          // GET /
void web_asset(Call& call);         // GET /web/app.js, /web/style.css

// The OpenAPI document and the page built into the binary (api/openapi.json,
// api/web/index.html, app.js, style.css).
const std::string& builtin_openapi_document();
const std::string& builtin_web_page();
const std::string& builtin_web_script();
const std::string& builtin_web_style();

}  // namespace imgsearchd::api
