// The search routes: text, JSON (text, image, id or embedding), upload, similar.
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "api/handlers.h"
#include "api/holders.h"
#include "api/json.h"
#include "api/params.h"
#include "store/core/errors.h"

namespace imgsearchd::api {

namespace {

using Clock = std::chrono::steady_clock;

// The advertised addresses of the services holding the page's hits that
// this service does not hold (a shared catalogue). None while the catalogue
// is unreachable (the page comes from the replica) or cannot be read: the
// hits then name their service without its address.
std::map<std::string, std::string> holder_addresses(ApiState& state, const SearchPage& page) {
  std::set<std::string> sources;
  for (const Hit& hit : page.hits) {
    const std::vector<SourcePath> foreign = foreign_paths(hit.paths);
    if (foreign.empty() || foreign.size() != hit.paths.size()) continue;
    for (const SourcePath& path : foreign) sources.insert(path.source);
  }
  if (sources.empty() || !page.catalogue_problem.empty()) return {};
  try {
    const CatalogReaders::Lease reader = state.readers.borrow();
    return advertised_addresses(*reader, sources);
  } catch (const Error& error) {
    spdlog::debug("api: search hits without their holders' addresses: {}", error.what());
    return {};
  }
}

template <typename Search>
void answer_search(Call& call, const SearchOptions& options, Search&& search) {
  const Clock::time_point start = Clock::now();
  const SearchPage page = search();
  const std::map<std::string, std::string> addresses = holder_addresses(call.state, page);
  const double took_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  respond_json(call.response, search_page_json(page, options, took_ms, call.state.image_info, addresses));
}

const char* const kQueryKinds[] = {"text", "image", "id", "embedding", "terms"};

VectorId json_image_id(const nlohmann::json& value) {
  if (value.is_string()) return parse_image_id(value.get<std::string>());
  if (value.is_number_unsigned()) return parse_image_id(std::to_string(value.get<uint64_t>()));
  throw InvalidInput("id must be a string of digits (an id from search results), got " + value.dump());
}

std::vector<float> json_embedding(const nlohmann::json& value) {
  if (!value.is_array()) throw InvalidInput("embedding must be an array of numbers, got " + std::string(value.type_name()));
  std::vector<float> embedding;
  embedding.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_number()) {
      throw InvalidInput("embedding[" + std::to_string(i) + "] must be a number, got " + value[i].dump());
    }
    embedding.push_back(value[i].get<float>());
  }
  return embedding;
}

// [{"text": ..., "weight": 2}, {"id": "123", "weight": -1}, {"image": BASE64}]:
// each term one of text, id or image (base64), weight 1 unless given.
std::vector<QueryTerm> json_terms(const nlohmann::json& value) {
  if (!value.is_array() || value.empty()) {
    throw InvalidInput("terms must be a non-empty array of {text | id | image, weight}, got " + quoted(value.dump()));
  }
  if (value.size() > 16) throw InvalidInput("terms may hold at most 16 terms, got " + std::to_string(value.size()));
  std::vector<QueryTerm> terms;
  for (size_t i = 0; i < value.size(); ++i) {
    const nlohmann::json& item = value[i];
    const std::string name = "terms[" + std::to_string(i) + "]";
    if (!item.is_object()) throw InvalidInput(name + " must be an object, got " + quoted(item.dump()));
    for (const auto& entry : item.items()) {
      if (entry.key() != "text" && entry.key() != "id" && entry.key() != "image" && entry.key() != "weight") {
        throw InvalidInput(name + " has the unknown key " + quoted(entry.key()) + " (known: text, id, image, weight)");
      }
    }
    const int kinds = int(item.contains("text")) + int(item.contains("id")) + int(item.contains("image"));
    if (kinds != 1) throw InvalidInput(name + " needs exactly one of text, id or image");
    float weight = 1;
    if (item.contains("weight")) {
      if (!item["weight"].is_number()) throw InvalidInput(name + ".weight must be a number, got " + item["weight"].dump());
      weight = item["weight"].get<float>();
    }
    if (item.contains("text")) {
      if (!item["text"].is_string()) throw InvalidInput(name + ".text must be a string");
      terms.push_back(QueryTerm::of_text(check_query_text(item["text"].get<std::string>(), name + ".text"), weight));
    } else if (item.contains("id")) {
      terms.push_back(QueryTerm::of_id(json_image_id(item["id"]), weight));
    } else {
      if (!item["image"].is_string()) throw InvalidInput(name + ".image must be a base64 string");
      terms.push_back(QueryTerm::of_bytes(decode_base64(item["image"].get<std::string>(), name + ".image"), name, weight));
    }
  }
  check_query_terms(terms);
  return terms;
}

}  // namespace

void search_by_query_string(Call& call) {
  check_query_parameters(call.request, {"q", "k", "offset", "min_score", "collapse", "diversity", "normalise", "pool"});
  if (!call.request.has_param("q")) throw InvalidInput("q is required: GET /api/search?q=TEXT");
  const std::string text = check_query_text(call.request.get_param_value("q"), "q");
  const SearchOptions options = search_options_from_query(call.request, call.state.options.search_defaults);
  const std::shared_ptr<QueryEngine> engine = call.state.engine();
  answer_search(call, options, [&] { return engine->by_text(text, options); });
}

void search_by_json(Call& call) {
  const nlohmann::json body = parse_json_object(call.request.body);
  check_json_keys(body, {"text", "image", "id", "embedding", "terms", "include_query_images", "k", "offset",
                         "min_score", "collapse", "diversity", "normalise", "pool"});
  std::vector<std::string> given;
  for (const char* kind : kQueryKinds) {
    if (body.contains(kind)) given.push_back(kind);
  }
  if (given.empty()) throw InvalidInput("give one of text, image (base64), id, embedding or terms");
  if (given.size() > 1) {
    throw InvalidInput("give only one of text, image, id, embedding or terms; got " + given[0] + " and " + given[1]);
  }
  bool exclude_term_images = true;
  if (body.contains("include_query_images")) {
    if (!body["include_query_images"].is_boolean()) {
      throw InvalidInput("include_query_images must be true or false, got " + body["include_query_images"].dump());
    }
    exclude_term_images = !body["include_query_images"].get<bool>();
  }
  const SearchOptions options = search_options_from_json(body, call.state.options.search_defaults);
  const std::string& kind = given.front();
  const nlohmann::json& value = body[kind];
  if (kind == "text") {
    if (!value.is_string()) throw InvalidInput("text must be a string, got " + std::string(value.type_name()));
    const std::string text = check_query_text(value.get<std::string>(), "text");
    const std::shared_ptr<QueryEngine> engine = call.state.engine();
    answer_search(call, options, [&] { return engine->by_text(text, options); });
  } else if (kind == "image") {
    if (!value.is_string()) throw InvalidInput("image must be a base64 string, got " + std::string(value.type_name()));
    const std::string bytes = decode_base64(value.get<std::string>(), "image");
    const std::shared_ptr<QueryEngine> engine = call.state.engine();
    answer_search(call, options, [&] { return engine->by_image_bytes(bytes.data(), bytes.size(), "image", options); });
  } else if (kind == "id") {
    const VectorId id = json_image_id(value);
    const std::shared_ptr<QueryEngine> engine = call.state.engine();
    answer_search(call, options, [&] { return engine->by_id(id, options); });
  } else if (kind == "terms") {
    const std::vector<QueryTerm> terms = json_terms(value);
    const std::shared_ptr<QueryEngine> engine = call.state.engine();
    answer_search(call, options, [&] { return engine->by_terms(terms, options, exclude_term_images); });
  } else {
    const std::vector<float> embedding = json_embedding(value);
    const std::shared_ptr<QueryEngine> engine = call.state.engine();
    answer_search(call, options, [&] { return engine->by_embedding(embedding, options); });
  }
}

void search_by_upload(Call& call) {
  check_query_parameters(call.request, {"k", "offset", "min_score", "collapse", "diversity", "normalise", "pool"});
  const SearchOptions options = search_options_from_query(call.request, call.state.options.search_defaults);
  std::string bytes;
  std::string name = "the uploaded image";
  if (call.request.is_multipart_form_data()) {
    if (!call.request.has_file("image")) throw InvalidInput("the multipart form has no field named image");
    const httplib::MultipartFormData field = call.request.get_file_value("image");
    bytes = field.content;
    if (!field.filename.empty()) name = "the upload " + quoted(field.filename);
  } else {
    bytes = call.request.body;
  }
  const std::shared_ptr<QueryEngine> engine = call.state.engine();
  answer_search(call, options, [&] { return engine->by_image_bytes(bytes.data(), bytes.size(), name, options); });
}

void similar_images(Call& call) {
  const VectorId id = parse_image_id(call.request.matches[1]);
  check_query_parameters(call.request, {"k", "offset", "min_score", "collapse", "diversity", "normalise", "pool"});
  const SearchOptions options = search_options_from_query(call.request, call.state.options.search_defaults);
  const std::shared_ptr<QueryEngine> engine = call.state.engine();
  answer_search(call, options, [&] { return engine->by_id(id, options); });
}

}  // namespace imgsearchd::api
