#include "api/client/service_client.h"

#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <utility>

namespace imgsearchd {

namespace fs = std::filesystem;

struct ServiceClient::Impl {
  httplib::Client http;
  ServiceClientOptions options;
  Impl(const std::string& url, ServiceClientOptions chosen) : http(url), options(chosen) {}
};

namespace {

// Every option is sent, reranking off included: the service's own search
// defaults (its configuration's search: section) must not change what the
// command line asked for. (Reranked queries are answered locally.)
std::string query_string(const SearchOptions& options) {
  char score[32];
  std::snprintf(score, sizeof score, "%.9g", static_cast<double>(options.min_score));  // a float, exactly
  return "k=" + std::to_string(options.k) + "&offset=" + std::to_string(options.offset) + "&min_score=" + score +
         "&collapse=0&diversity=0&normalise=none";
}

nlohmann::json search_body(const SearchOptions& options) {
  return {{"k", options.k},         {"offset", options.offset}, {"min_score", options.min_score},
          {"collapse", nullptr},    {"diversity", 0},           {"normalise", "none"}};
}

// The API's error body {"error": {"code", "type", "message"}} as the typed
// error of its status.
[[noreturn]] void throw_api_error(const std::string& url, const httplib::Response& response) {
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  std::string message;
  if (body.is_object() && body.contains("error") && body["error"].is_object())
    message = body["error"].value("message", std::string());
  if (message.empty()) message = "HTTP " + std::to_string(response.status) + " from " + url;
  switch (response.status) {
    case 400: throw InvalidInput(message);
    case 413: throw TooLarge(message);
    case 404: throw NotFound(message);
    case 409: throw Busy(message);
    case 401:
    case 403:
      throw ServiceRefused("the imgsearchd service at " + url + " refused the request (" +
                        std::to_string(response.status) + "): " + message +
                        "; the command line sends the token of api.token or api.token_file in its configuration");
    case 500: throw InternalError("the imgsearchd service at " + url + ": " + message);
    default: throw Unavailable("the imgsearchd service at " + url + ": " + message);
  }
}

}  // namespace

ServiceClient::ServiceClient(std::string base_url, std::string token, ServiceClientOptions options)
    : base_url_(std::move(base_url)), impl_(std::make_unique<Impl>(base_url_, options)) {
  impl_->http.set_connection_timeout(options.connect_timeout);
  impl_->http.set_read_timeout(options.quick_timeout);
  impl_->http.set_write_timeout(options.search_timeout);
  if (!token.empty()) impl_->http.set_bearer_token_auth(token);
}

ServiceClient::~ServiceClient() = default;

namespace {

// The answer's JSON body; throws ServiceUnreachable when nothing answered,
// the typed error for an error status.
nlohmann::json json_answer(const std::string& url, const std::string& what, const httplib::Result& result) {
  if (!result) {
    throw ServiceUnreachable(what + " at " + url + " got no answer: " + httplib::to_string(result.error()));
  }
  if (result->status >= 300) throw_api_error(url, *result);
  nlohmann::json body = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    throw InternalError("the imgsearchd service at " + url + " answered " + what + " with a body that is not JSON");
  }
  return body;
}

}  // namespace

nlohmann::json ServiceClient::health() {
  impl_->http.set_read_timeout(impl_->options.quick_timeout);
  return json_answer(base_url_, "GET /health", impl_->http.Get("/health"));
}

nlohmann::json ServiceClient::status() {
  impl_->http.set_read_timeout(impl_->options.quick_timeout);
  return json_answer(base_url_, "GET /api/status", impl_->http.Get("/api/status"));
}

SearchPage ServiceClient::search_text(const std::string& text, const SearchOptions& options) {
  nlohmann::json body = search_body(options);
  body["text"] = text;
  impl_->http.set_read_timeout(impl_->options.search_timeout);
  return search_page_from_json(
      json_answer(base_url_, "POST /api/search", impl_->http.Post("/api/search", body.dump(), "application/json")));
}

SearchPage ServiceClient::search_id(VectorId id, const SearchOptions& options) {
  nlohmann::json body = search_body(options);
  body["id"] = std::to_string(id);
  impl_->http.set_read_timeout(impl_->options.search_timeout);
  return search_page_from_json(
      json_answer(base_url_, "POST /api/search", impl_->http.Post("/api/search", body.dump(), "application/json")));
}

SearchPage ServiceClient::search_image_file(const fs::path& file, const SearchOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw NotFound(file.string() + " is neither an indexed id nor a readable image file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  impl_->http.set_read_timeout(impl_->options.search_timeout);
  const std::string target = "/api/search/image?" + query_string(options);
  return search_page_from_json(json_answer(base_url_, "POST /api/search/image",
                                           impl_->http.Post(target, bytes, "application/octet-stream")));
}

nlohmann::json ServiceClient::rescan(const std::optional<std::string>& root) {
  nlohmann::json body = nlohmann::json::object();
  if (root) body["root"] = *root;
  impl_->http.set_read_timeout(impl_->options.quick_timeout);
  return json_answer(base_url_, "POST /api/rescan", impl_->http.Post("/api/rescan", body.dump(), "application/json"));
}

namespace {

VectorId id_from_json(const nlohmann::json& value) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (looks_like_image_id(text)) return std::stoll(text);
  }
  throw InternalError("the imgsearchd service answered an id that is not a string of digits: " + value.dump());
}

}  // namespace

SearchPage search_page_from_json(const nlohmann::json& answer) {
  if (!answer.is_object() || !answer.contains("results") || !answer["results"].is_array()) {
    throw InternalError("the imgsearchd service answered a search without results: " + answer.dump().substr(0, 200));
  }
  SearchPage page;
  for (const nlohmann::json& result : answer["results"]) {
    Hit hit;
    hit.id = id_from_json(result.value("id", nlohmann::json()));
    // The service's score is a float written in full: read back, it is that float.
    hit.score = result.value("score", 0.0f);
    hit.cosine = result.value("cosine", hit.score);
    if (result.contains("paths") && result["paths"].is_array()) hit.paths = result["paths"].get<std::vector<std::string>>();
    page.hits.push_back(std::move(hit));
  }
  if (answer.contains("next_offset") && answer["next_offset"].is_number_unsigned())
    page.next_offset = answer["next_offset"].get<size_t>();
  if (answer.contains("excluded") && !answer["excluded"].is_null()) page.excluded = id_from_json(answer["excluded"]);
  if (answer.contains("excluded_ids") && answer["excluded_ids"].is_array()) {
    for (const nlohmann::json& id : answer["excluded_ids"]) page.excluded_ids.push_back(id_from_json(id));
  }
  return page;
}

}  // namespace imgsearchd
