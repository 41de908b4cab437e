// An evaluation set: queries with their ground-truth images, in the shape
// VisualSearch uses, extended to every query kind:
//
//   {"queries": [{"query_id": "q1",
//                 "text": "a dog on a beach" | "image": "FILE" | "id": "ID",
//                 "ground_truth": ["PATH or ID", ...]}]}
//
// Relative paths (the image of a query, ground-truth paths) are relative to
// the dataset file's folder.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/core/content_id.h"

namespace imgsearchd {

struct EvalQuery {
  enum class Kind { text, image, id };

  std::string query_id;
  Kind kind = Kind::text;
  std::string text;                   // text
  std::filesystem::path image;        // image: absolute
  VectorId id = 0;                    // id
  std::vector<std::string> ground_truth;  // as written: paths (made absolute) or ids

  const char* kind_name() const;
};

struct EvalDataset {
  std::filesystem::path file;
  std::vector<EvalQuery> queries;
};

// Throws InvalidInput naming the file, the query (position and id) and the
// key that is wrong; NotFound when the file cannot be read.
EvalDataset read_eval_dataset(const std::filesystem::path& file);
// The same from parsed JSON; `base` resolves relative paths, `name` is the
// file named in messages.
EvalDataset eval_dataset_from_json(const nlohmann::json& json, const std::filesystem::path& base,
                                   const std::string& name);

}  // namespace imgsearchd
