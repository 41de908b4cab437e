#include "indexer/model/clip_architecture.h"

#include <cmath>
#include <set>

namespace imgsearchd {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw ModelError(file.string() + ": " + what);
}

const std::vector<int64_t>& require(const TensorShapes& shapes, const std::string& name, size_t rank,
                                    const char* meaning, const std::filesystem::path& file) {
  const auto it = shapes.find(name);
  if (it == shapes.end())
    fail(file, "tensor '" + name + "' is missing (expected " + meaning +
                   ", as in OpenAI's and open_clip's CLIP ViT checkpoints)");
  if (it->second.size() != rank)
    fail(file, "tensor '" + name + "': expected " + std::to_string(rank) + " dimensions " + meaning + ", found " +
                   shape_to_string(it->second));
  return it->second;
}

// Layers are counted as OpenAI's build_model does, from the block numbers in
// "<prefix>N." names; a gap shows up later as missing tensors.
int count_blocks(const TensorShapes& shapes, const std::string& prefix) {
  int layers = 0;
  for (const auto& [name, shape] : shapes) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const size_t dot = name.find('.', prefix.size());
    const std::string number = name.substr(prefix.size(), dot - prefix.size());
    if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos || number.size() > 6) continue;
    layers = std::max(layers, std::stoi(number) + 1);
  }
  return layers;
}

int heads_for(int width, const std::optional<int>& setting, const char* key, const std::filesystem::path& file) {
  if (setting) {
    if (width % *setting != 0)
      fail(file, std::string("'") + key + "' is " + std::to_string(*setting) + ", which does not divide the width " +
                     std::to_string(width));
    return *setting;
  }
  if (width % 64 != 0)
    fail(file, "cannot infer the attention heads: the width " + std::to_string(width) +
                   " is not a multiple of 64; give '" + key + "' in the manifest " +
                   manifest_path_for(file).string());
  return width / 64;
}

void check_setting(const std::optional<int>& setting, int inferred, const char* key, const std::string& how,
                   const ModelManifest& settings, const std::filesystem::path& file) {
  if (setting && *setting != inferred)
    fail(file, std::string(key) + " " + std::to_string(*setting) + " from " + settings.source +
                   " does not match the weights: " + how + " gives " + std::to_string(inferred));
}

void add_block_shapes(std::vector<std::pair<std::string, std::vector<int64_t>>>& out, const std::string& prefix,
                      int layers, int64_t w) {
  for (int i = 0; i < layers; ++i) {
    const std::string p = prefix + std::to_string(i) + ".";
    out.push_back({p + "ln_1.weight", {w}});
    out.push_back({p + "ln_1.bias", {w}});
    out.push_back({p + "attn.in_proj_weight", {3 * w, w}});
    out.push_back({p + "attn.in_proj_bias", {3 * w}});
    out.push_back({p + "attn.out_proj.weight", {w, w}});
    out.push_back({p + "attn.out_proj.bias", {w}});
    out.push_back({p + "ln_2.weight", {w}});
    out.push_back({p + "ln_2.bias", {w}});
    out.push_back({p + "mlp.c_fc.weight", {4 * w, w}});
    out.push_back({p + "mlp.c_fc.bias", {4 * w}});
    out.push_back({p + "mlp.c_proj.weight", {w, 4 * w}});
    out.push_back({p + "mlp.c_proj.bias", {w}});
  }
}

std::string describe(const ModelInfo& a) {
  return "vision width " + std::to_string(a.vision_width) + ", " + std::to_string(a.vision_layers) + " layers, patch " +
         std::to_string(a.patch_size) + ", " + std::to_string(a.image_resolution) + " px; text width " +
         std::to_string(a.text_width) + ", " + std::to_string(a.text_layers) + " layers, context " +
         std::to_string(a.context_length) + ", vocabulary " + std::to_string(a.vocab_size) + "; embedding " +
         std::to_string(a.embed_dim);
}

// Lists at most a few problems of each kind, so a message stays readable.
void append_limited(std::string& message, const std::vector<std::string>& items, const std::string& heading) {
  if (items.empty()) return;
  message += "; " + heading + ": ";
  for (size_t i = 0; i < items.size() && i < 5; ++i) message += (i ? ", " : "") + items[i];
  if (items.size() > 5) message += " and " + std::to_string(items.size() - 5) + " more";
}

}  // namespace

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool is_unused_clip_tensor(const std::string& name) {
  static const std::set<std::string> names = {"logit_scale", "input_resolution", "context_length", "vocab_size"};
  return names.count(name) > 0;
}

bool has_clip_tensor_names(const TensorShapes& shapes) {
  return shapes.count("visual.conv1.weight") || shapes.count("token_embedding.weight");
}

std::vector<std::pair<std::string, std::vector<int64_t>>> clip_tensor_shapes(const ModelInfo& a) {
  const int64_t vw = a.vision_width, tw = a.text_width, p = a.patch_size;
  const int64_t grid = a.image_resolution / a.patch_size;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out = {
      {"visual.conv1.weight", {vw, 3, p, p}},
      {"visual.class_embedding", {vw}},
      {"visual.positional_embedding", {grid * grid + 1, vw}},
      {"visual.ln_pre.weight", {vw}},
      {"visual.ln_pre.bias", {vw}},
      {"visual.ln_post.weight", {vw}},
      {"visual.ln_post.bias", {vw}},
      {"visual.proj", {vw, a.embed_dim}},
      {"token_embedding.weight", {a.vocab_size, tw}},
      {"positional_embedding", {a.context_length, tw}},
      {"ln_final.weight", {tw}},
      {"ln_final.bias", {tw}},
      {"text_projection", {tw, a.embed_dim}},
  };
  add_block_shapes(out, "visual.transformer.resblocks.", a.vision_layers, vw);
  add_block_shapes(out, "transformer.resblocks.", a.text_layers, tw);
  return out;
}

ModelInfo infer_clip_architecture(const TensorShapes& shapes, const ModelManifest& settings,
                                  const std::filesystem::path& file) {
  if (shapes.count("visual.attnpool.c_proj.weight") || shapes.count("visual.layer1.0.conv1.weight"))
    fail(file, "a ResNet-based CLIP (RN50, RN101, ...): only the vision-transformer (ViT) models are supported");

  ModelInfo a;
  const auto& conv1 = require(shapes, "visual.conv1.weight", 4, "[vision width, 3, patch, patch]", file);
  const auto& vpos = require(shapes, "visual.positional_embedding", 2, "[patches + 1, vision width]", file);
  const auto& tproj = require(shapes, "text_projection", 2, "[text width, embedding size]", file);
  const auto& tpos = require(shapes, "positional_embedding", 2, "[context length, text width]", file);
  const auto& tok = require(shapes, "token_embedding.weight", 2, "[vocabulary size, text width]", file);
  const auto& lnf = require(shapes, "ln_final.weight", 1, "[text width]", file);

  a.vision_width = static_cast<int>(conv1[0]);
  a.patch_size = static_cast<int>(conv1[3]);
  const int64_t patches = vpos[0] - 1;
  const auto grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(patches, 0)))));
  if (patches < 1 || grid * grid != patches)
    fail(file, "tensor 'visual.positional_embedding' has " + std::to_string(vpos[0]) +
                   " rows; expected a square number of patches plus one (class token)");
  a.image_resolution = static_cast<int>(grid) * a.patch_size;
  a.vision_layers = count_blocks(shapes, "visual.transformer.resblocks.");
  a.embed_dim = static_cast<int>(tproj[1]);
  a.context_length = static_cast<int>(tpos[0]);
  a.vocab_size = static_cast<int>(tok[0]);
  a.text_width = static_cast<int>(lnf[0]);
  a.text_layers = count_blocks(shapes, "transformer.resblocks.");
  if (a.vision_layers == 0)
    fail(file, "no vision transformer blocks: expected tensors named visual.transformer.resblocks.0.* and on");
  if (a.text_layers == 0) fail(file, "no text transformer blocks: expected tensors named transformer.resblocks.0.* and on");
  if (a.vision_width <= 0 || a.patch_size <= 0 || a.text_width <= 0 || a.embed_dim <= 0)
    fail(file, "tensor shapes with a zero dimension (" + describe(a) + ")");
  a.vision_heads = heads_for(a.vision_width, settings.vision_heads, "vision_heads", file);
  a.text_heads = heads_for(a.text_width, settings.text_heads, "text_heads", file);

  check_setting(settings.image_resolution, a.image_resolution, "image_resolution",
                "patch " + std::to_string(a.patch_size) + " x grid " + std::to_string(grid), settings, file);
  check_setting(settings.context_length, a.context_length, "context_length", "'positional_embedding'", settings, file);
  check_setting(settings.embed_dim, a.embed_dim, "embed_dim", "'text_projection'", settings, file);
  check_setting(settings.vocab_size, a.vocab_size, "vocab_size", "'token_embedding.weight'", settings, file);

  std::vector<std::string> wrong, missing, unexpected;
  std::set<std::string> expected_names;
  for (const auto& [name, shape] : clip_tensor_shapes(a)) {
    expected_names.insert(name);
    const auto it = shapes.find(name);
    if (it == shapes.end())
      missing.push_back("'" + name + "' " + shape_to_string(shape));
    else if (it->second != shape)
      wrong.push_back("'" + name + "' expected " + shape_to_string(shape) + ", found " + shape_to_string(it->second));
  }
  for (const auto& [name, shape] : shapes)
    if (!expected_names.count(name) && !is_unused_clip_tensor(name)) unexpected.push_back("'" + name + "'");
  if (!wrong.empty() || !missing.empty() || !unexpected.empty()) {
    std::string message = "the tensors do not fit CLIP's ViT architecture as inferred from their shapes (" +
                          describe(a) + ")";
    append_limited(message, wrong, "wrong shape");
    append_limited(message, missing, "missing");
    append_limited(message, unexpected, "not part of CLIP's ViT (another model or variant?)");
    fail(file, message);
  }
  return a;
}

}  // namespace imgsearchd
