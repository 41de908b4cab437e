// imgsearchd's own implementation of CLIP's ViT architecture (after OpenAI's
// model.py) on libtorch tensors. Internal to imgsearchd_model: includes ATen.
#pragma once

#include <ATen/ATen.h>
#include <ATen/native/quantized/PackedParams.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "indexer/model/clip_model.h"
#include "indexer/model/packed_linear.h"
#include "indexer/model/product_helper.h"

namespace imgsearchd {

// How the transformer blocks' matrix products run (ModelOptions::precision).
enum class BlockPrecision {
  fp32,  // exact; on the CPU with AVX-512F or AVX2+FMA the text tower's products use PackedLinear
  bf16,  // bfloat16 weights and inputs (oneDNN), fp32 results
  int8,  // dynamic int8 (oneDNN): int8 weights per output channel, inputs quantised per product
};

class NativeClip {
 public:
  // `weights` holds every tensor of clip_tensor_shapes(arch), already checked,
  // in fp32; they are moved to `device`. `packed_text_kernel`: with fp32 on
  // the CPU, the text tower's products are packed for few rows and run by
  // this kernel (a supported one); none: the general product.
  NativeClip(const std::map<std::string, at::Tensor>& weights, const ModelInfo& arch, bool quick_gelu,
             const at::Device& device, BlockPrecision precision = BlockPrecision::fp32,
             std::optional<PackedKernel> packed_text_kernel = PackedLinear::best());

  // images: n x 3 x R x R float (any device). Returns n x embed_dim on the CPU, L2-normalised.
  at::Tensor encode_images(const at::Tensor& images) const;

  // tokens: n x context_length int64. With `truncate_at_eot` the text tower
  // runs only up to the batch's last end-of-text position. Returns
  // n x embed_dim on the CPU, L2-normalised.
  at::Tensor encode_texts(const at::Tensor& tokens, bool truncate_at_eot) const;

 private:
  // One of a block's four products, in exactly one of three forms.
  struct Linear {
    at::Tensor weight, bias;                        // a general product (fp32 or bf16 weight)
    std::shared_ptr<const PackedLinear> packed;     // fp32, packed for few rows
    c10::intrusive_ptr<LinearPackedParamsBase> int8;  // oneDNN's prepacked int8 weight and bias
  };
  struct Block {  // one residual attention block (ln_1, attn, ln_2, mlp)
    at::Tensor ln_1_w, ln_1_b;
    Linear in_proj, out_proj;
    at::Tensor ln_2_w, ln_2_b;
    Linear c_fc, c_proj;
  };
  struct Tower {
    std::vector<Block> blocks;
    int heads = 0;
  };
  enum class LinearForm { general, packed, int8 };

  // Runs every block on x (n x len x width) and returns the outputs at `rows`
  // (one position per sequence): n x width.
  at::Tensor run_tower(const Tower& tower, at::Tensor x, const at::Tensor& mask, const at::Tensor& rows) const;
  at::Tensor attention(const Block& b, const at::Tensor& x, int heads, const at::Tensor& mask,
                       const at::Tensor& rows) const;
  at::Tensor mlp(const Block& b, const at::Tensor& x) const;
  // x W^T + bias (x: ... x inputs), in the layer's form; the result is fp32.
  at::Tensor linear(const at::Tensor& x, const Linear& layer) const;
  Linear make_linear(const at::Tensor& weight, const at::Tensor& bias, LinearForm form) const;

  ModelInfo arch_;
  bool quick_gelu_;
  BlockPrecision precision_;
  at::Device device_;
  std::optional<PackedKernel> packed_text_kernel_;  // set only where the text tower is packed
  // vision
  at::Tensor patch_w_;  // conv1 as a (3 * patch * patch) x width matrix
  at::Tensor class_embedding_, vision_pos_, ln_pre_w_, ln_pre_b_, ln_post_w_, ln_post_b_, vision_proj_;
  Tower vision_;
  // text
  at::Tensor token_embedding_, text_pos_, causal_mask_, ln_final_w_, ln_final_b_, text_proj_;
  Tower text_;
  // A query's packed products are shared with its thread. Last: its thread
  // stops before the layers it reads are destroyed.
  mutable ProductHelper product_helper_;
};

}  // namespace imgsearchd
