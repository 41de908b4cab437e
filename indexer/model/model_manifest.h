// The settings that sit beside a weights file: imgsearchd's own manifest
// ("<weights file>.json", keys documented in clip_model.h) and open_clip's
// open_clip_config.json. No libtorch here.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace imgsearchd {

struct ModelManifest {
  std::optional<std::string> format;
  std::optional<std::string> activation;  // "quick_gelu" or "gelu"
  std::optional<int> image_resolution, context_length, embed_dim, vocab_size;
  std::optional<int> vision_heads, text_heads;
  std::optional<std::array<float, 3>> mean, std;
  std::filesystem::path vocabulary;               // absolute, or empty
  std::vector<std::filesystem::path> files;       // the files these settings came from
  // Where each setting came from, for error messages ("the manifest X", "open_clip_config.json Y").
  std::string source;
};

// "<weights file>.json"
std::filesystem::path manifest_path_for(const std::filesystem::path& weights);

// Reads "<weights>.json" if it exists (nullopt otherwise). Unknown keys and bad
// values throw ModelError naming the file and the key.
std::optional<ModelManifest> read_manifest_for(const std::filesystem::path& weights);

// Reads open_clip_config.json from the weights' folder if it exists: its
// model_cfg.quick_gelu, vision_cfg.image_size / head_width, text_cfg.heads /
// context_length / vocab_size, embed_dim and preprocess_cfg.mean / std.
// Settings of open_clip variants this runtime does not implement (attentional
// pooling, layer scale, other pooling, timm or Hugging Face towers) throw ModelError.
std::optional<ModelManifest> read_open_clip_config_for(const std::filesystem::path& weights);

// Each setting from `over` if it has one, else from `under`.
ModelManifest overlay(const ModelManifest& over, const ModelManifest& under);

}  // namespace imgsearchd
