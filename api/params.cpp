#include "api/params.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include "store/core/errors.h"

namespace imgsearchd::api {

std::string quoted(const std::string& value) {
  return "'" + (value.size() > 64 ? value.substr(0, 64) + "..." : value) + "'";
}

VectorId parse_image_id(const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 19 &&
                      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
  if (digits) {
    const unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
    if (value <= static_cast<unsigned long long>(std::numeric_limits<VectorId>::max()))
      return static_cast<VectorId>(value);
  }
  throw InvalidInput("an image id is a decimal integer of at most 63 bits, as search results give it; got " +
                     quoted(text));
}

namespace {

size_t parse_count(const std::string& text, const std::string& name) {
  const bool digits = !text.empty() && text.size() <= 12 &&
                      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
  if (!digits) throw InvalidInput(name + " must be a non-negative integer, got " + quoted(text));
  return static_cast<size_t>(std::strtoull(text.c_str(), nullptr, 10));
}

float parse_score(const std::string& text, const std::string& name) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(value) ||
      std::isspace(static_cast<unsigned char>(text.front()))) {
    throw InvalidInput(name + " must be a number, got " + quoted(text));
  }
  return static_cast<float>(value);
}

size_t json_count(const nlohmann::json& value, const std::string& name) {
  if (value.is_number_unsigned()) return value.get<size_t>();
  if (value.is_number_integer()) {
    throw InvalidInput(name + " must be a non-negative integer, got " + value.dump());
  }
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (number >= 0 && number <= 1e12 && std::floor(number) == number) return static_cast<size_t>(number);
  }
  throw InvalidInput(name + " must be a non-negative integer, got " + quoted(value.dump()));
}

}  // namespace

const std::vector<std::string> kSearchOptionNames = {"k",        "offset",    "min_score", "collapse",
                                                      "diversity", "normalise", "pool"};

namespace {

ScoreNormalisation normalisation_named(const std::string& name) {
  const std::optional<ScoreNormalisation> normalisation = score_normalisation_from_name(name);
  if (!normalisation) throw InvalidInput("normalise must be none or minmax, got " + quoted(name));
  return *normalisation;
}

// collapse: 0 or null switch it off.
std::optional<float> collapse_value(float value) { return value == 0 ? std::nullopt : std::optional<float>(value); }

}  // namespace

float number_parameter(const httplib::Request& request, const std::string& name, float fallback) {
  return request.has_param(name) ? parse_score(request.get_param_value(name), name) : fallback;
}

SearchOptions search_options_from_query(const httplib::Request& request, const SearchOptions& defaults) {
  SearchOptions options = defaults;
  if (request.has_param("collapse")) options.rerank.collapse = collapse_value(number_parameter(request, "collapse", 0));
  if (request.has_param("diversity")) options.rerank.diversity = number_parameter(request, "diversity", 0);
  if (request.has_param("normalise")) options.rerank.normalise = normalisation_named(request.get_param_value("normalise"));
  if (request.has_param("pool")) options.pool = parse_count(request.get_param_value("pool"), "pool");
  if (request.has_param("k")) options.k = parse_count(request.get_param_value("k"), "k");
  if (request.has_param("offset")) options.offset = parse_count(request.get_param_value("offset"), "offset");
  if (request.has_param("min_score"))
    options.min_score = parse_score(request.get_param_value("min_score"), "min_score");
  check_search_options(options);
  return options;
}

SearchOptions search_options_from_json(const nlohmann::json& body, const SearchOptions& defaults) {
  SearchOptions options = defaults;
  if (body.contains("collapse")) {
    const nlohmann::json& value = body["collapse"];
    if (!value.is_null() && !value.is_number()) throw InvalidInput("collapse must be a number or null, got " + value.dump());
    options.rerank.collapse = value.is_null() ? std::nullopt : collapse_value(value.get<float>());
  }
  if (body.contains("diversity")) {
    if (!body["diversity"].is_number()) throw InvalidInput("diversity must be a number, got " + body["diversity"].dump());
    options.rerank.diversity = body["diversity"].get<float>();
  }
  if (body.contains("normalise")) {
    if (!body["normalise"].is_string()) throw InvalidInput("normalise must be none or minmax, got " + body["normalise"].dump());
    options.rerank.normalise = normalisation_named(body["normalise"].get<std::string>());
  }
  if (body.contains("pool")) options.pool = json_count(body["pool"], "pool");
  if (body.contains("k")) options.k = json_count(body["k"], "k");
  if (body.contains("offset")) options.offset = json_count(body["offset"], "offset");
  if (body.contains("min_score")) {
    if (!body["min_score"].is_number()) throw InvalidInput("min_score must be a number, got " + body["min_score"].dump());
    options.min_score = body["min_score"].get<float>();
  }
  check_search_options(options);
  return options;
}

void check_query_parameters(const httplib::Request& request, const std::vector<std::string>& known) {
  // httplib adds the fields of a form body to the parameters, and curl -d
  // labels any body a form: a JSON or image body would read as junk names.
  if (request.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) return;
  for (const auto& [name, value] : request.params) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      throw InvalidInput("unknown parameter " + quoted(name) + " (known: " + list + ")");
    }
  }
}

void check_json_keys(const nlohmann::json& body, const std::vector<std::string>& known) {
  for (const auto& item : body.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      throw InvalidInput("unknown field " + quoted(item.key()) + " (known: " + list + ")");
    }
  }
}

nlohmann::json parse_json_object(const std::string& body) {
  if (body.empty()) return nlohmann::json::object();
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& error) {
    throw InvalidInput(std::string("the body is not valid JSON: ") + error.what());
  }
  if (!parsed.is_object()) throw InvalidInput("the body must be a JSON object, got " + std::string(parsed.type_name()));
  return parsed;
}

std::string check_query_text(const std::string& text, const std::string& name) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw InvalidInput(name + " is empty: give a text to search for");
  if (text.size() > kMaxQueryTextBytes) {
    throw InvalidInput(name + " is " + std::to_string(text.size()) + " bytes long; at most " +
                       std::to_string(kMaxQueryTextBytes) + " are read");
  }
  return text;
}

std::string decode_base64(const std::string& text, const std::string& name) {
  size_t start = 0;
  if (text.rfind("data:", 0) == 0) {
    const size_t comma = text.find(',');
    if (comma == std::string::npos || text.substr(0, comma).find(";base64") == std::string::npos)
      throw InvalidInput(name + " is a data URL without base64 data");
    start = comma + 1;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t buffer = 0;
  int bits = 0;
  size_t padding = 0;
  for (size_t i = start; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) continue;
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    else if (c >= '0' && c <= '9') value = c - '0' + 52;
    else if (c == '+') value = 62;
    else if (c == '/') value = 63;
    else if (c == '=') {
      ++padding;
      continue;
    }
    if (value < 0 || padding > 0) throw InvalidInput(name + " is not base64 (a byte at " + std::to_string(i) + ")");
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (padding > 2 || bits >= 6) throw InvalidInput(name + " is not base64 (its length is wrong)");
  return out;
}

}  // namespace imgsearchd::api
