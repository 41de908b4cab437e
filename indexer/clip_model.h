// A CLIP model (vision and text towers) behind a header free of libtorch, so
// only the model's own .cpp files pay libtorch's compile time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace imgsearchd {

// A weights file that cannot be used: names the file, what was expected and
// what was found.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModelOptions {
  std::string device = "cpu";  // "cpu", or "cuda"/"cuda:N" where libtorch has CUDA
  int threads = 0;             // intra-op threads; 0 = all cores
};

// What was inferred from the weights (and the sidecar manifest, if any).
struct ModelInfo {
  std::string format;  // "openai-torchscript", "open_clip-safetensors", "torchscript-module"
  std::string activation;  // "quick_gelu" or "gelu"
  int image_resolution = 0;
  int patch_size = 0;
  int vision_width = 0, vision_layers = 0, vision_heads = 0;
  int text_width = 0, text_layers = 0, text_heads = 0;
  int context_length = 0;
  int vocab_size = 0;
  int embed_dim = 0;
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
  std::string fingerprint;  // identifies these exact weights (for the embedding cache)
};

class ClipModel {
 public:
  // Loads, by their published names, OpenAI TorchScript checkpoints,
  // open_clip safetensors, or a TorchScript module with encode_image and
  // encode_text plus a sidecar manifest. Throws ModelError.
  static std::unique_ptr<ClipModel> load(const std::filesystem::path& weights, const ModelOptions& options);
  virtual ~ClipModel() = default;

  virtual const ModelInfo& info() const = 0;

  // n images, each 3 x R x R floats (CHW, normalised), back to back.
  // Returns n x embed_dim L2-normalised floats.
  virtual std::vector<float> encode_images(const float* pixels, size_t n) = 0;

  // Each entry is context_length token ids (ClipTokenizer::tokenize).
  // Returns n x embed_dim L2-normalised floats.
  virtual std::vector<float> encode_texts(const std::vector<std::vector<int32_t>>& tokens) = 0;
};

}  // namespace imgsearchd
