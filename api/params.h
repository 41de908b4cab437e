// Internal to imgsearchd_api: reading what a request asks for, strictly.
// Every refusal is InvalidInput naming the parameter and echoing (a bounded
// part of) what was given.
#pragma once

#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "indexer/search/query_engine.h"
#include "store/core/content_id.h"

namespace imgsearchd::api {

constexpr size_t kMaxQueryTextBytes = 2000;  // CLIP reads 77 tokens; this is far more than that

// An image id as search results give it: decimal digits, 63 bits.
VectorId parse_image_id(const std::string& text);

// The query-string parameters and JSON keys every search takes.
extern const std::vector<std::string> kSearchOptionNames;  // k, offset, min_score, collapse, diversity, normalise, pool

// k, offset, min_score and the rerank options (collapse, diversity,
// normalise, pool) from the query string; `defaults` where absent.
SearchOptions search_options_from_query(const httplib::Request& request, const SearchOptions& defaults = {});
// The same from a JSON object.
SearchOptions search_options_from_json(const nlohmann::json& body, const SearchOptions& defaults = {});

// A number from the query string, or `fallback` when absent.
float number_parameter(const httplib::Request& request, const std::string& name, float fallback);

// Refuses query-string parameters other than `known`.
void check_query_parameters(const httplib::Request& request, const std::vector<std::string>& known);
// Refuses keys of a JSON object other than `known`.
void check_json_keys(const nlohmann::json& body, const std::vector<std::string>& known);

// The body as a JSON object; an empty body is an empty object.
nlohmann::json parse_json_object(const std::string& body);

// A query text, non-empty and bounded.
std::string check_query_text(const std::string& text, const std::string& name);

// Standard base64 (an optional "data:...;base64," prefix, white space
// ignored), strictly: anything else is InvalidInput naming `name`.
std::string decode_base64(const std::string& text, const std::string& name);

// The text of a value for an error message: quoted, at most 64 bytes.
std::string quoted(const std::string& value);

}  // namespace imgsearchd::api
