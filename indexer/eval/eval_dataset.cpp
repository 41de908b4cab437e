#include "indexer/eval/eval_dataset.h"

#include <fstream>
#include <set>

#include "store/core/errors.h"

namespace imgsearchd {

namespace fs = std::filesystem;

const char* EvalQuery::kind_name() const {
  switch (kind) {
    case Kind::text: return "text";
    case Kind::image: return "image";
    case Kind::id: return "id";
  }
  return "text";
}

namespace {

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() <= 19 &&
         text.find_first_not_of("0123456789") == std::string::npos;
}

std::string absolute_under(const fs::path& base, const std::string& path) {
  const fs::path given(path);
  return (given.is_absolute() ? given : base / given).lexically_normal().string();
}

EvalQuery query_from_json(const nlohmann::json& entry, size_t position, const fs::path& base,
                          const std::string& name) {
  std::string where = name + ": query " + std::to_string(position + 1);
  if (!entry.is_object()) throw InvalidInput(where + " is not a JSON object");
  EvalQuery query;
  if (entry.contains("query_id")) {
    const nlohmann::json& id = entry["query_id"];
    if (id.is_string()) {
      query.query_id = id.get<std::string>();
    } else if (id.is_number_integer()) {
      query.query_id = std::to_string(id.get<int64_t>());
    } else {
      throw InvalidInput(where + ": 'query_id' must be a string");
    }
  } else {
    query.query_id = "q" + std::to_string(position + 1);
  }
  where += " (" + query.query_id + ")";

  int kinds = 0;
  if (entry.contains("text")) {
    ++kinds;
    if (!entry["text"].is_string() || entry["text"].get<std::string>().empty()) {
      throw InvalidInput(where + ": 'text' must be a non-empty string");
    }
    query.kind = EvalQuery::Kind::text;
    query.text = entry["text"].get<std::string>();
  }
  if (entry.contains("image")) {
    ++kinds;
    if (!entry["image"].is_string() || entry["image"].get<std::string>().empty()) {
      throw InvalidInput(where + ": 'image' must be the path of an image file");
    }
    query.kind = EvalQuery::Kind::image;
    query.image = absolute_under(base, entry["image"].get<std::string>());
  }
  if (entry.contains("id")) {
    ++kinds;
    const nlohmann::json& id = entry["id"];
    const std::string text = id.is_string() ? id.get<std::string>()
                             : id.is_number_unsigned() ? std::to_string(id.get<uint64_t>())
                                                       : std::string();
    if (!all_digits(text)) throw InvalidInput(where + ": 'id' must be an indexed image id (decimal digits)");
    query.kind = EvalQuery::Kind::id;
    query.id = std::stoll(text);
  }
  if (kinds != 1) throw InvalidInput(where + " needs exactly one of 'text', 'image' or 'id'");

  if (!entry.contains("ground_truth") || !entry["ground_truth"].is_array()) {
    throw InvalidInput(where + ": 'ground_truth' must be a list of image paths or ids");
  }
  for (const nlohmann::json& truth : entry["ground_truth"]) {
    if (truth.is_number_unsigned()) {
      query.ground_truth.push_back(std::to_string(truth.get<uint64_t>()));
    } else if (truth.is_string() && !truth.get<std::string>().empty()) {
      const std::string value = truth.get<std::string>();
      query.ground_truth.push_back(all_digits(value) ? value : absolute_under(base, value));
    } else {
      throw InvalidInput(where + ": every 'ground_truth' entry must be an image path or id, got " + truth.dump());
    }
  }
  return query;
}

}  // namespace

EvalDataset eval_dataset_from_json(const nlohmann::json& json, const fs::path& base, const std::string& name) {
  if (!json.is_object() || !json.contains("queries") || !json["queries"].is_array()) {
    throw InvalidInput(name + ": an evaluation set is a JSON object with a 'queries' list");
  }
  EvalDataset dataset;
  dataset.file = name;
  std::set<std::string> ids;
  for (size_t i = 0; i < json["queries"].size(); ++i) {
    EvalQuery query = query_from_json(json["queries"][i], i, base, name);
    if (!ids.insert(query.query_id).second) {
      throw InvalidInput(name + ": query " + std::to_string(i + 1) + " repeats the query_id '" + query.query_id + "'");
    }
    dataset.queries.push_back(std::move(query));
  }
  if (dataset.queries.empty()) throw InvalidInput(name + ": the evaluation set has no queries");
  return dataset;
}

EvalDataset read_eval_dataset(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw NotFound("cannot read the evaluation set " + file.string());
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(file.string() + " is not valid JSON: " + e.what());
  }
  const fs::path base = fs::absolute(file).parent_path();
  return eval_dataset_from_json(json, base, file.string());
}

}  // namespace imgsearchd
