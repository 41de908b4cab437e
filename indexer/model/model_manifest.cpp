#include "indexer/model/model_manifest.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "indexer/model/clip_model.h"

namespace imgsearchd {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw ModelError(file.string() + ": " + what);
}

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) fail(file, "cannot open for reading");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::exception& e) {
    fail(file, std::string("not valid JSON: ") + e.what());
  }
}

int positive_int(const std::filesystem::path& file, const std::string& key, const json& value) {
  if (!value.is_number_integer() || value.get<int64_t>() <= 0 || value.get<int64_t>() > 1'000'000)
    fail(file, "key '" + key + "': expected a positive integer, found " + value.dump());
  return value.get<int>();
}

std::array<float, 3> three_floats(const std::filesystem::path& file, const std::string& key, const json& value) {
  if (!value.is_array() || value.size() != 3 || !value[0].is_number() || !value[1].is_number() ||
      !value[2].is_number())
    fail(file, "key '" + key + "': expected three numbers (R, G, B), found " + value.dump());
  return {value[0].get<float>(), value[1].get<float>(), value[2].get<float>()};
}

std::string one_of(const std::filesystem::path& file, const std::string& key, const json& value,
                   const std::set<std::string>& allowed) {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "\"" : ", \"") + a + "\"";
  if (!value.is_string() || !allowed.count(value.get<std::string>()))
    fail(file, "key '" + key + "': expected one of " + list + ", found " + value.dump());
  return value.get<std::string>();
}

// open_clip's image_size is an int or [height, width].
int square_size(const std::filesystem::path& file, const std::string& key, const json& value) {
  if (value.is_array()) {
    if (value.size() != 2 || value[0] != value[1])
      fail(file, "key '" + key + "': expected a square image size, found " + value.dump());
    return positive_int(file, key, value[0]);
  }
  return positive_int(file, key, value);
}

// Refuses open_clip settings that change the architecture away from CLIP's.
void refuse_unsupported(const std::filesystem::path& file, const json& cfg, const std::string& prefix,
                        const std::string& key, const json& allowed_value) {
  if (!cfg.contains(key) || cfg[key].is_null() || cfg[key] == allowed_value) return;
  fail(file, "key '" + prefix + key + "' is " + cfg[key].dump() + ": this open_clip variant is not supported "
             "(imgsearchd implements OpenAI CLIP's ViT architecture; expected " + allowed_value.dump() + ")");
}

}  // namespace

std::filesystem::path manifest_path_for(const std::filesystem::path& weights) {
  return weights.string() + ".json";
}

std::optional<ModelManifest> read_manifest_for(const std::filesystem::path& weights) {
  const auto file = manifest_path_for(weights);
  if (!std::filesystem::exists(file)) return std::nullopt;
  const json j = read_json(file);
  if (!j.is_object()) fail(file, "expected a JSON object of model settings, found " + j.dump());
  ModelManifest m;
  m.files = {file};
  m.source = "the manifest " + file.string();
  for (const auto& [key, value] : j.items()) {
    if (key == "format")
      m.format = one_of(file, key, value, {"openai-torchscript", "open_clip-safetensors", "torchscript-module"});
    else if (key == "activation")
      m.activation = one_of(file, key, value, {"quick_gelu", "gelu"});
    else if (key == "image_resolution")
      m.image_resolution = positive_int(file, key, value);
    else if (key == "context_length")
      m.context_length = positive_int(file, key, value);
    else if (key == "embed_dim")
      m.embed_dim = positive_int(file, key, value);
    else if (key == "vocab_size")
      m.vocab_size = positive_int(file, key, value);
    else if (key == "vision_heads")
      m.vision_heads = positive_int(file, key, value);
    else if (key == "text_heads")
      m.text_heads = positive_int(file, key, value);
    else if (key == "mean")
      m.mean = three_floats(file, key, value);
    else if (key == "std")
      m.std = three_floats(file, key, value);
    else if (key == "vocabulary") {
      if (!value.is_string() || value.get<std::string>().empty())
        fail(file, "key 'vocabulary': expected the path of a BPE merges file, found " + value.dump());
      m.vocabulary = std::filesystem::absolute(file.parent_path() / value.get<std::string>());
    } else {
      fail(file, "unknown key '" + key + "' (known: format, activation, image_resolution, context_length, "
                 "embed_dim, vocab_size, vision_heads, text_heads, mean, std, vocabulary)");
    }
  }
  return m;
}

std::optional<ModelManifest> read_open_clip_config_for(const std::filesystem::path& weights) {
  const auto file = weights.parent_path() / "open_clip_config.json";
  if (!std::filesystem::exists(file)) return std::nullopt;
  const json j = read_json(file);
  // The hub's files wrap the model config in "model_cfg"; open_clip's own
  // model_configs/*.json are the bare model config.
  const json model = j.contains("model_cfg") ? j["model_cfg"] : j;
  if (!model.is_object() || !model.contains("vision_cfg"))
    fail(file, "expected an open_clip config with model_cfg.vision_cfg, found none");
  ModelManifest m;
  m.files = {file};
  m.source = "open_clip config " + file.string();
  const json& vision = model["vision_cfg"];
  const json text = model.contains("text_cfg") ? model["text_cfg"] : json::object();

  refuse_unsupported(file, vision, "model_cfg.vision_cfg.", "timm_model_name", nullptr);
  refuse_unsupported(file, vision, "model_cfg.vision_cfg.", "attentional_pool", false);
  refuse_unsupported(file, vision, "model_cfg.vision_cfg.", "ls_init_value", nullptr);
  refuse_unsupported(file, vision, "model_cfg.vision_cfg.", "pool_type", "tok");
  refuse_unsupported(file, vision, "model_cfg.vision_cfg.", "final_ln_after_pool", false);
  refuse_unsupported(file, vision, "model_cfg.vision_cfg.", "no_ln_pre", false);
  refuse_unsupported(file, text, "model_cfg.text_cfg.", "hf_model_name", nullptr);
  refuse_unsupported(file, text, "model_cfg.text_cfg.", "ls_init_value", nullptr);
  refuse_unsupported(file, text, "model_cfg.text_cfg.", "pool_type", "argmax");
  refuse_unsupported(file, text, "model_cfg.text_cfg.", "embed_cls", false);

  if (model.contains("quick_gelu")) {
    if (!model["quick_gelu"].is_boolean()) fail(file, "key 'model_cfg.quick_gelu': expected true or false");
    m.activation = model["quick_gelu"].get<bool>() ? "quick_gelu" : "gelu";
  }
  if (model.contains("embed_dim")) m.embed_dim = positive_int(file, "model_cfg.embed_dim", model["embed_dim"]);
  if (vision.contains("image_size"))
    m.image_resolution = square_size(file, "model_cfg.vision_cfg.image_size", vision["image_size"]);
  if (vision.contains("head_width") && vision.contains("width")) {
    const int width = positive_int(file, "model_cfg.vision_cfg.width", vision["width"]);
    const int head_width = positive_int(file, "model_cfg.vision_cfg.head_width", vision["head_width"]);
    if (width % head_width != 0)
      fail(file, "model_cfg.vision_cfg.width " + std::to_string(width) + " is not a multiple of head_width " +
                     std::to_string(head_width));
    m.vision_heads = width / head_width;
  }
  if (text.contains("heads")) m.text_heads = positive_int(file, "model_cfg.text_cfg.heads", text["heads"]);
  if (text.contains("context_length"))
    m.context_length = positive_int(file, "model_cfg.text_cfg.context_length", text["context_length"]);
  if (text.contains("vocab_size"))
    m.vocab_size = positive_int(file, "model_cfg.text_cfg.vocab_size", text["vocab_size"]);
  if (j.contains("preprocess_cfg")) {
    const json& pre = j["preprocess_cfg"];
    if (pre.contains("mean")) m.mean = three_floats(file, "preprocess_cfg.mean", pre["mean"]);
    if (pre.contains("std")) m.std = three_floats(file, "preprocess_cfg.std", pre["std"]);
  }
  return m;
}

ModelManifest overlay(const ModelManifest& over, const ModelManifest& under) {
  ModelManifest m = under;
  auto take = [](auto& into, const auto& from) {
    if (from) into = from;
  };
  take(m.format, over.format);
  take(m.activation, over.activation);
  take(m.image_resolution, over.image_resolution);
  take(m.context_length, over.context_length);
  take(m.embed_dim, over.embed_dim);
  take(m.vocab_size, over.vocab_size);
  take(m.vision_heads, over.vision_heads);
  take(m.text_heads, over.text_heads);
  take(m.mean, over.mean);
  take(m.std, over.std);
  if (!over.vocabulary.empty()) m.vocabulary = over.vocabulary;
  m.files.insert(m.files.begin(), over.files.begin(), over.files.end());
  m.source = under.source.empty() ? over.source : over.source + " or " + under.source;
  return m;
}

}  // namespace imgsearchd
