// imgsearchd's own implementation of CLIP's ViT architecture (after OpenAI's
// model.py) on libtorch tensors. Internal to imgsearchd_model: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "indexer/model/clip_model.h"

namespace imgsearchd {

class NativeClip {
 public:
  // `weights` holds every tensor of clip_tensor_shapes(arch), already checked,
  // in fp32; they are moved to `device`.
  // With `bf16`, the blocks' matrix products run in bfloat16 (see ModelOptions::precision).
  NativeClip(const std::map<std::string, at::Tensor>& weights, const ModelInfo& arch, bool quick_gelu,
             const at::Device& device, bool bf16 = false);

  // images: n x 3 x R x R float (any device). Returns n x embed_dim on the CPU, L2-normalised.
  at::Tensor encode_images(const at::Tensor& images) const;

  // tokens: n x context_length int64. With `truncate_at_eot` the text tower
  // runs only up to the batch's last end-of-text position. Returns
  // n x embed_dim on the CPU, L2-normalised.
  at::Tensor encode_texts(const at::Tensor& tokens, bool truncate_at_eot) const;

 private:
  struct Block {  // one residual attention block (ln_1, attn, ln_2, mlp)
    at::Tensor ln_1_w, ln_1_b, in_proj_w, in_proj_b, out_proj_w, out_proj_b;
    at::Tensor ln_2_w, ln_2_b, c_fc_w, c_fc_b, c_proj_w, c_proj_b;
  };
  struct Tower {
    std::vector<Block> blocks;
    int heads = 0;
  };

  // Runs every block on x (n x len x width) and returns the outputs at `rows`
  // (one position per sequence): n x width.
  at::Tensor run_tower(const Tower& tower, at::Tensor x, const at::Tensor& mask, const at::Tensor& rows) const;
  at::Tensor attention(const Block& b, const at::Tensor& x, int heads, const at::Tensor& mask,
                       const at::Tensor& rows) const;
  at::Tensor mlp(const Block& b, const at::Tensor& x) const;
  // x W^T + bias, in bfloat16 when the weights are (the result is fp32 either way).
  at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) const;

  ModelInfo arch_;
  bool quick_gelu_;
  bool bf16_;
  at::Device device_;
  // vision
  at::Tensor patch_w_;  // conv1 as a (3 * patch * patch) x width matrix
  at::Tensor class_embedding_, vision_pos_, ln_pre_w_, ln_pre_b_, ln_post_w_, ln_post_b_, vision_proj_;
  Tower vision_;
  // text
  at::Tensor token_embedding_, text_pos_, causal_mask_, ln_final_w_, ln_final_b_, text_proj_;
  Tower text_;
};

}  // namespace imgsearchd
