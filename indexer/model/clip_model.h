// A CLIP model (vision and text towers) behind a header free of libtorch, so
// only the model's own .cpp files pay libtorch's compile time.
//
// Weights formats (detected from the file's first bytes; a manifest may force one):
//   "openai-torchscript"    OpenAI's published TorchScript archives (ViT-B/32, B/16, L/14, ...):
//                           parameters read by their published names (fp16 -> fp32), run by
//                           imgsearchd's own implementation; activation QuickGELU by default.
//   "open_clip-safetensors" open_clip checkpoints in safetensors (F32, F16, BF16), same names;
//                           activation GELU unless open_clip_config.json (same folder) says
//                           "quick_gelu": true or the manifest says "activation": "quick_gelu".
//   "torchscript-module"    any TorchScript archive whose parameters are not CLIP's published names
//                           but which has methods encode_image(images) and encode_text(tokens):
//                           run as is; a manifest is required.
//
// Manifest: an optional JSON object in "<weights file>.json" (e.g. model.pt.json). Keys, all
// optional except where a format requires them; unknown keys are errors:
//   "format"            one of the three names above: use this loader whatever the file looks like
//   "activation"        "quick_gelu" or "gelu"
//   "vision_heads"      attention heads of the vision tower (default vision width / 64)
//   "text_heads"        attention heads of the text tower (default text width / 64)
//   "image_resolution"  pixels per side the model takes (torchscript-module: required;
//                       otherwise checked against the weights)
//   "context_length"    tokens per text (torchscript-module: required; otherwise checked)
//   "embed_dim"         embedding size (torchscript-module: found by a probe run if absent;
//                       otherwise checked)
//   "vocab_size"        token ids accepted are 0 .. vocab_size-1 (torchscript-module: default 49408;
//                       otherwise checked)
//   "mean", "std"       three floats each: the preprocessing normalisation (torchscript-module:
//                       required; default OpenAI's)
//   "vocabulary"        the tokenizer's BPE merges file, relative to the manifest's folder
//                       (default: the one shipped with imgsearchd)
// The manifest wins over open_clip_config.json, which wins over the defaults.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "indexer/image/image_loader.h"
#include "indexer/model/packed_linear.h"
#include "store/core/errors.h"

namespace imgsearchd {

// A model that cannot be used (a weights file that is missing or malformed, a
// device that is not there): names the file, what was expected and what was
// found. The model is unavailable (store/core/errors.h).
class ModelError : public Error {
 public:
  explicit ModelError(const std::string& message) : Error(ErrorKind::unavailable, message) {}
};

struct ModelOptions {
  std::string device = "cpu";  // "cpu", or "cuda"/"cuda:N" where libtorch has CUDA
  int threads = 0;             // intra-op threads; 0 = all logical CPUs
  // Run the text tower only up to the batch's last end-of-text token: exact
  // (causal masking makes later positions irrelevant) and much faster for
  // short queries. Off only to check that claim.
  bool truncate_text_at_eot = true;
  // fp32 on a CPU with AVX-512F or AVX2+FMA: the text tower's products use
  // weights packed for few rows (indexer/model/packed_linear.h), equal to the
  // general product's up to fp32 rounding and about twice as fast for a query.
  // Off only to measure or check that.
  bool pack_text_weights = true;
  // With 2 or more threads on the CPU, an image batch of 8 or more is split
  // into parts run side by side, each on its share of the threads (fewer
  // threads kept in step: faster). Same embeddings up to fp32 rounding. Off
  // only to measure or check that.
  bool split_image_batches = true;
  // The packed product's kernel; unset: the best this CPU runs. Set only by
  // tests and benchmarks, to run each kernel the CPU has; one it lacks is
  // refused (InvalidInput) when the model loads.
  std::optional<PackedKernel> packed_kernel;
  // "fp32" (the default), "bf16" or "int8", for the transformer blocks' matrix
  // products; fp32 everywhere else (README, Performance):
  //   fp32  exact. On CPUs with AVX-512F or AVX2+FMA the text tower's weights are packed
  //         for products with few rows (a query's tokens): same results to fp32
  //         rounding, about 2x faster queries.
  //   bf16  bfloat16 weights and inputs (oneDNN's AVX-512 BF16 kernels): half the
  //         weight memory, about 2x faster images; refused without AVX-512 BF16.
  //   int8  dynamic int8 (oneDNN): int8 weights per output channel, inputs
  //         quantised per product; a quarter of the weight memory, about 2.5x
  //         faster images; refused without AVX-512 VNNI and off the CPU.
  // Text queries cost about the same in all three (README, Performance).
  // Embeddings move slightly with bf16 and int8 (another fingerprint). Both
  // are refused for torchscript-module models.
  std::string precision = "fp32";
};

// What was inferred from the weights (and the sidecar manifest, if any).
struct ModelInfo {
  std::string format;      // "openai-torchscript", "open_clip-safetensors", "torchscript-module"
  std::string activation;  // "quick_gelu" or "gelu" ("" for torchscript-module: the module decides)
  int image_resolution = 0;
  int patch_size = 0;      // 0 when unknown (torchscript-module)
  int vision_width = 0, vision_layers = 0, vision_heads = 0;
  int text_width = 0, text_layers = 0, text_heads = 0;
  int context_length = 0;
  int vocab_size = 0;
  int embed_dim = 0;
  std::array<float, 3> mean = kClipMean;  // CLIP's recipe (indexer/image/image_loader.h)
  std::array<float, 3> std = kClipStd;
  // "<format>:<16 hex digits>", the XXH3-64 of the weights file's bytes followed by
  // those of every sidecar read: identifies these exact weights (for the embedding cache).
  std::string fingerprint;
  std::filesystem::path weights_file;
  std::vector<std::filesystem::path> sidecar_files;  // manifest / open_clip_config.json read
  std::filesystem::path vocabulary;  // from the manifest; empty = the default vocabulary
};

class ClipModel {
 public:
  // Loads, by their published names, OpenAI TorchScript checkpoints,
  // open_clip safetensors, or a TorchScript module with encode_image and
  // encode_text plus a sidecar manifest. Throws ModelError.
  // Sets libtorch's intra-op thread count (a process-wide setting).
  static std::unique_ptr<ClipModel> load(const std::filesystem::path& weights, const ModelOptions& options);
  virtual ~ClipModel() = default;

  virtual const ModelInfo& info() const = 0;

  // n images, each 3 x R x R floats (CHW, normalised with info().mean/std),
  // back to back, R = info().image_resolution. The whole call is one batch.
  // Returns n x embed_dim L2-normalised floats. Safe to call from several threads.
  virtual std::vector<float> encode_images(const float* pixels, size_t n) = 0;

  // Each entry holds at most context_length token ids (ClipTokenizer::tokenize),
  // padded with 0 to context_length; ids must be below vocab_size, else
  // InvalidInput. The end-of-text token is found as the largest id,
  // as CLIP does. Returns n x embed_dim L2-normalised floats.
  virtual std::vector<float> encode_texts(const std::vector<std::vector<int32_t>>& tokens) = 0;
};

}  // namespace imgsearchd
