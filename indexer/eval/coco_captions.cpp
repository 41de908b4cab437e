#include "indexer/eval/coco_captions.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "store/core/errors.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

struct CaptionedImage {
  std::string file;
  std::vector<std::string> captions;
};

std::string string_field(const nlohmann::json& entry, const char* key, const std::string& where) {
  if (!entry.is_object() || !entry.contains(key) || !entry[key].is_string() || entry[key].get<std::string>().empty()) {
    throw InvalidInput(where + " has no '" + key + "' string");
  }
  return entry[key].get<std::string>();
}

// COCO's layout: images by id, captions as annotations pointing at them.
std::vector<CaptionedImage> from_annotations(const nlohmann::json& json, const std::string& name) {
  std::map<int64_t, size_t> by_id;
  std::vector<CaptionedImage> images;
  for (size_t i = 0; i < json["images"].size(); ++i) {
    const nlohmann::json& image = json["images"][i];
    const std::string where = name + ": images[" + std::to_string(i) + "]";
    if (!image.is_object() || !image.contains("id") || !image["id"].is_number_integer()) {
      throw InvalidInput(where + " has no integer 'id'");
    }
    by_id[image["id"].get<int64_t>()] = images.size();
    images.push_back({string_field(image, "file_name", where), {}});
  }
  for (size_t i = 0; i < json["annotations"].size(); ++i) {
    const nlohmann::json& annotation = json["annotations"][i];
    const std::string where = name + ": annotations[" + std::to_string(i) + "]";
    if (!annotation.is_object() || !annotation.contains("image_id") || !annotation["image_id"].is_number_integer()) {
      throw InvalidInput(where + " has no integer 'image_id'");
    }
    const auto image = by_id.find(annotation["image_id"].get<int64_t>());
    if (image == by_id.end()) throw InvalidInput(where + " names an image id that no image has");
    images[image->second].captions.push_back(string_field(annotation, "caption", where));
  }
  return images;
}

// One entry per image with its captions.
std::vector<CaptionedImage> from_per_image(const nlohmann::json& json, const std::string& name) {
  std::vector<CaptionedImage> images;
  for (size_t i = 0; i < json["images"].size(); ++i) {
    const nlohmann::json& image = json["images"][i];
    const std::string where = name + ": images[" + std::to_string(i) + "]";
    CaptionedImage captioned{string_field(image, "file", where), {}};
    if (!image.contains("captions") || !image["captions"].is_array()) {
      throw InvalidInput(where + " has no 'captions' list");
    }
    for (const nlohmann::json& caption : image["captions"]) {
      if (!caption.is_string()) throw InvalidInput(where + ": every caption must be a string");
      captioned.captions.push_back(caption.get<std::string>());
    }
    images.push_back(std::move(captioned));
  }
  return images;
}

}  // namespace

nlohmann::json convert_coco_captions(const fs::path& captions_file, const CocoConversion& options) {
  const std::string name = captions_file.string();
  std::ifstream in(captions_file);
  if (!in) throw NotFound("cannot read the caption file " + name);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(name + " is not valid JSON: " + e.what());
  }
  if (!json.is_object() || !json.contains("images") || !json["images"].is_array()) {
    throw InvalidInput(name + ": a caption file is a JSON object with an 'images' list");
  }
  const bool coco_layout = json.contains("annotations");
  if (coco_layout && !json["annotations"].is_array()) throw InvalidInput(name + ": 'annotations' must be a list");
  const std::vector<CaptionedImage> images = coco_layout ? from_annotations(json, name) : from_per_image(json, name);

  const fs::path folder =
      options.images_dir.empty() ? fs::absolute(captions_file).parent_path() : fs::absolute(options.images_dir);
  nlohmann::json queries = nlohmann::json::array();
  for (const CaptionedImage& image : images) {
    const std::string path = (folder / image.file).lexically_normal().string();
    const std::string stem = fs::path(image.file).stem().string();
    for (size_t i = 0; i < image.captions.size(); ++i) {
      if (options.captions_per_image != 0 && i == options.captions_per_image) break;
      queries.push_back({{"query_id", stem + "#" + std::to_string(i + 1)},
                         {"text", image.captions[i]},
                         {"ground_truth", {path}}});
    }
  }
  return {{"source", "converted from " + name}, {"queries", queries}};
}

}  // namespace imgsearchd
