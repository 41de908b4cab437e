// Query arithmetic: a query made of several weighted terms (texts, image
// files, uploaded images, indexed ids), combined in embedding space before
// the search: the query vector is the sum of weight * embedding over the
// terms, normalised. QueryEngine::by_terms runs it.
//
// The command line follows rclip's syntax:
//   imgsearchd search "golden retriever" --add "2:beach" --subtract snow --add ./ref.jpg
// `W:term` gives a weight (a number, then a colon); a term that starts with
// `/`, `./`, `../`, `~/` or `file://` is an image file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "store/core/content_id.h"

namespace imgsearchd {

struct QueryTerm {
  enum class Kind { text, image_file, image_bytes, id };

  Kind kind = Kind::text;
  std::string text;             // text: what to look for; image_bytes: a name for messages
  std::filesystem::path file;   // image_file
  std::string bytes;            // image_bytes: the encoded image
  VectorId id = 0;              // id: an indexed image
  float weight = 1;             // any finite number; negative moves results away

  static QueryTerm of_text(std::string text, float weight = 1);
  static QueryTerm of_file(std::filesystem::path file, float weight = 1);
  static QueryTerm of_bytes(std::string bytes, std::string name, float weight = 1);
  static QueryTerm of_id(VectorId id, float weight = 1);

  // How the term reads in messages and JSON ("text", "file", "upload", "id").
  const char* kind_name() const;
};

// A command-line term in rclip's syntax, its weight multiplied by `sign`
// (+1 for the query and --add, -1 for --subtract). Throws InvalidInput
// naming `argument` for an empty term, a weight that is not finite, or a
// URL (nothing is downloaded).
QueryTerm parse_cli_term(const std::string& argument, float sign = 1);

// True when rclip's rules make `argument` an image file (a path prefix).
bool names_an_image_file(const std::string& argument);

// Throws InvalidInput when there are no terms, or a term is empty or has a
// weight that is zero or not finite (naming the term by its position).
void check_query_terms(const std::vector<QueryTerm>& terms);

}  // namespace imgsearchd
