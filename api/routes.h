// Internal to imgsearchd_api: the route table (routes.cpp), one line per
// route. api/openapi.json describes exactly these (a test checks it).
#pragma once

#include <string>
#include <vector>

#include "api/handlers.h"

namespace imgsearchd::api {

struct Route {
  const char* method;  // "GET" or "POST"
  const char* path;    // as OpenAPI writes it: "/api/images/{id}"
  void (*handler)(Call&);
  bool needs_token;    // false only for what a browser or a probe needs before it has one
};

const std::vector<Route>& route_table();

// The path as the regular expression httplib matches: "{id}" -> "([^/]+)".
std::string route_pattern(const std::string& path);

}  // namespace imgsearchd::api
