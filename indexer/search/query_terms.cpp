#include "indexer/search/query_terms.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "store/core/errors.h"

namespace imgsearchd {

QueryTerm QueryTerm::of_text(std::string text, float weight) {
  QueryTerm term;
  term.kind = Kind::text;
  term.text = std::move(text);
  term.weight = weight;
  return term;
}

QueryTerm QueryTerm::of_file(std::filesystem::path file, float weight) {
  QueryTerm term;
  term.kind = Kind::image_file;
  term.file = std::move(file);
  term.weight = weight;
  return term;
}

QueryTerm QueryTerm::of_bytes(std::string bytes, std::string name, float weight) {
  QueryTerm term;
  term.kind = Kind::image_bytes;
  term.bytes = std::move(bytes);
  term.text = std::move(name);
  term.weight = weight;
  return term;
}

QueryTerm QueryTerm::of_id(VectorId id, float weight) {
  QueryTerm term;
  term.kind = Kind::id;
  term.id = id;
  term.weight = weight;
  return term;
}

const char* QueryTerm::kind_name() const {
  switch (kind) {
    case Kind::text: return "text";
    case Kind::image_file: return "file";
    case Kind::image_bytes: return "upload";
    case Kind::id: return "id";
  }
  return "text";
}

bool names_an_image_file(const std::string& argument) {
  for (const char* prefix : {"/", "./", "../", "~/", "file://"}) {
    if (argument.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

namespace {

bool is_url(const std::string& argument) {
  return argument.rfind("http://", 0) == 0 || argument.rfind("https://", 0) == 0;
}

std::filesystem::path file_of(const std::string& argument) {
  if (argument.rfind("file://", 0) == 0) return argument.substr(7);
  if (argument.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home && *home) return std::filesystem::path(home) / argument.substr(2);
  }
  return argument;
}

// "2:beach" -> (2, "beach"); "beach" or "a:b" -> (1, as given).
std::pair<float, std::string> split_weight(const std::string& argument) {
  const size_t colon = argument.find(':');
  if (colon == std::string::npos || colon == 0) return {1.0f, argument};
  const std::string number = argument.substr(0, colon);
  char* end = nullptr;
  errno = 0;
  const float weight = std::strtof(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return {1.0f, argument};  // not a number: part of the text
  if (errno == ERANGE || !std::isfinite(weight)) {
    throw InvalidInput("the weight of the query term '" + argument + "' is not a finite number");
  }
  return {weight, argument.substr(colon + 1)};
}

}  // namespace

QueryTerm parse_cli_term(const std::string& argument, float sign) {
  auto [weight, term] = split_weight(argument);
  if (term.empty()) throw InvalidInput("the query term '" + argument + "' is empty");
  if (is_url(term)) {
    throw InvalidInput("the query term '" + argument + "' is a URL: imgsearchd downloads nothing; save the image " +
                       "and give its path (e.g. ./image.jpg)");
  }
  if (names_an_image_file(term)) return QueryTerm::of_file(file_of(term), sign * weight);
  return QueryTerm::of_text(term, sign * weight);
}

void check_query_terms(const std::vector<QueryTerm>& terms) {
  if (terms.empty()) throw InvalidInput("a query needs at least one term");
  for (size_t i = 0; i < terms.size(); ++i) {
    const QueryTerm& term = terms[i];
    const std::string which = "query term " + std::to_string(i + 1) + " (" + term.kind_name() + ")";
    if (!std::isfinite(term.weight) || term.weight == 0) {
      throw InvalidInput(which + " needs a weight that is a non-zero number, got " + std::to_string(term.weight));
    }
    if (term.kind == QueryTerm::Kind::text && term.text.empty()) throw InvalidInput(which + " is an empty text");
    if (term.kind == QueryTerm::Kind::image_file && term.file.empty()) throw InvalidInput(which + " names no file");
    if (term.kind == QueryTerm::Kind::image_bytes && term.bytes.empty()) throw InvalidInput(which + " is empty");
  }
}

}  // namespace imgsearchd
