// CLIP's ViT architecture read from tensor shapes alone, as OpenAI's
// build_model() does: every hyper-parameter is inferred from the shapes of
// tensors with CLIP's published names, then every tensor is checked against
// the architecture so that a wrong file fails before any inference.
// No libtorch here: the loaders pass shapes, not tensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "indexer/model/clip_model.h"
#include "indexer/model/model_manifest.h"

namespace imgsearchd {

using TensorShapes = std::map<std::string, std::vector<int64_t>>;

// True when the names are CLIP's published ones (there is a vision or text tower).
bool has_clip_tensor_names(const TensorShapes& shapes);

// Fills ModelInfo's architecture fields (image_resolution, patch_size, widths,
// layers, heads, context_length, vocab_size, embed_dim). Heads come from
// `settings` or are width / 64. Throws ModelError naming `file` for a missing
// tensor, a wrong shape, a tensor CLIP does not have, or a setting that
// disagrees with the weights.
ModelInfo infer_clip_architecture(const TensorShapes& shapes, const ModelManifest& settings,
                                  const std::filesystem::path& file);

// Every tensor the model uses, with the shape it must have.
std::vector<std::pair<std::string, std::vector<int64_t>>> clip_tensor_shapes(const ModelInfo& arch);

// Names found in published checkpoints that inference does not use
// (logit_scale, OpenAI's input_resolution / context_length / vocab_size).
bool is_unused_clip_tensor(const std::string& name);

std::string shape_to_string(const std::vector<int64_t>& shape);

}  // namespace imgsearchd
