#include "indexer/model/clip_native.h"

#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "indexer/model/omp_threads.h"

namespace imgsearchd {
namespace {

constexpr double kLayerNormEps = 1e-5;  // nn.LayerNorm's default, used by CLIP

at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return at::layer_norm(x, {x.size(-1)}, w, b, kLayerNormEps);
}

at::Tensor l2_normalise(const at::Tensor& x) {
  return (x / x.norm(2, {-1}, /*keepdim=*/true).clamp_min(1e-12)).to(at::kCPU).contiguous();
}

// The running query's share of a second core (product_helper.h): its packed
// products are split with the model's helper thread, which never makes the
// query wait. Like OpenMP's count (omp_threads.h), a setting of the thread
// running the query, set for the query's scope by encode_texts and read by
// linear().
thread_local const ProductHelper::Session* t_query_products = nullptr;

class QueryProducts {
 public:
  explicit QueryProducts(const ProductHelper::Session& session) { t_query_products = &session; }
  ~QueryProducts() { t_query_products = nullptr; }
  QueryProducts(const QueryProducts&) = delete;
  QueryProducts& operator=(const QueryProducts&) = delete;
};

// Prepacking (quantized::linear_prepack) builds the packed weights of the
// process-wide quantized engine; oneDNN's is the one with VNNI kernels.
void use_onednn_quantized_engine() {
  const auto& engines = at::globalContext().supportedQEngines();
  if (std::find(engines.begin(), engines.end(), at::QEngine::ONEDNN) == engines.end())
    throw ModelError("model precision 'int8' needs libtorch's oneDNN quantized engine, which this libtorch was "
                     "built without. Use fp32");
  at::globalContext().setQEngine(at::QEngine::ONEDNN);
}

// Symmetric int8 per output channel: each row of the weight gets its own
// scale, max |w| / 127, so one large row does not coarsen the others.
c10::intrusive_ptr<LinearPackedParamsBase> prepack_int8(const at::Tensor& weight, const at::Tensor& bias) {
  const at::Tensor scales = (weight.abs().amax({1}) / 127.0).clamp_min(1e-12).to(at::kDouble);
  const at::Tensor zero_points = at::zeros({weight.size(0)}, at::kLong);
  const at::Tensor quantised = at::quantize_per_channel(weight, scales, zero_points, 0, at::kQInt8);
  static const auto prepack =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("quantized::linear_prepack", "")
          .typed<c10::intrusive_ptr<LinearPackedParamsBase>(at::Tensor, c10::optional<at::Tensor>)>();
  return prepack.call(quantised, bias);
}

}  // namespace

NativeClip::NativeClip(const std::map<std::string, at::Tensor>& weights, const ModelInfo& arch, bool quick_gelu,
                       const at::Device& device, BlockPrecision precision,
                       std::optional<PackedKernel> packed_text_kernel)
    : arch_(arch), quick_gelu_(quick_gelu), precision_(precision), device_(device) {
  auto w = [&](const std::string& name) { return weights.at(name).to(device_, at::kFloat).contiguous(); };
  if (precision_ == BlockPrecision::int8) use_onednn_quantized_engine();
  // The blocks' matrices, which hold nearly all the weights and the work.
  auto tower = [&](const std::string& prefix, int layers, int heads, LinearForm form) {
    Tower t;
    t.heads = heads;
    for (int i = 0; i < layers; ++i) {
      const std::string p = prefix + std::to_string(i) + ".";
      auto product = [&](const std::string& name) {
        return make_linear(w(p + name + "weight"), w(p + name + "bias"), form);
      };
      t.blocks.push_back({w(p + "ln_1.weight"), w(p + "ln_1.bias"), product("attn.in_proj_"),
                          product("attn.out_proj."), w(p + "ln_2.weight"), w(p + "ln_2.bias"), product("mlp.c_fc."),
                          product("mlp.c_proj.")});
    }
    return t;
  };
  // A text query multiplies ~10 token vectors by each matrix: the packed
  // product's case. Images come in batches of 50 patches per image, where the
  // general product (OpenBLAS) is as fast and the vision tower stays as it was.
  const bool pack_text = packed_text_kernel && precision_ == BlockPrecision::fp32 && device_.is_cpu();
  if (pack_text) packed_text_kernel_ = packed_text_kernel;
  const LinearForm vision_form = precision_ == BlockPrecision::int8 ? LinearForm::int8 : LinearForm::general;
  const LinearForm text_form = precision_ == BlockPrecision::int8 ? LinearForm::int8
                               : pack_text                        ? LinearForm::packed
                                                                  : LinearForm::general;
  // conv1 has stride == kernel == patch, so it is one matrix product over
  // non-overlapping patches: flatten its weight as (channel, row, column).
  patch_w_ = w("visual.conv1.weight").reshape({arch.vision_width, -1}).t().contiguous();
  class_embedding_ = w("visual.class_embedding");
  vision_pos_ = w("visual.positional_embedding");
  ln_pre_w_ = w("visual.ln_pre.weight");
  ln_pre_b_ = w("visual.ln_pre.bias");
  ln_post_w_ = w("visual.ln_post.weight");
  ln_post_b_ = w("visual.ln_post.bias");
  vision_proj_ = w("visual.proj");
  vision_ = tower("visual.transformer.resblocks.", arch.vision_layers, arch.vision_heads, vision_form);

  token_embedding_ = w("token_embedding.weight");
  text_pos_ = w("positional_embedding");
  ln_final_w_ = w("ln_final.weight");
  ln_final_b_ = w("ln_final.bias");
  text_proj_ = w("text_projection");
  text_ = tower("transformer.resblocks.", arch.text_layers, arch.text_heads, text_form);
  // OpenAI's build_attention_mask: -inf above the diagonal, added to the scores.
  causal_mask_ = at::full({arch.context_length, arch.context_length}, -std::numeric_limits<float>::infinity(),
                          at::TensorOptions().dtype(at::kFloat).device(device_))
                     .triu_(1);
}

// nn.MultiheadAttention's computation (self-attention, packed in-projection),
// batch first: x is n x len x width, mask len x len (or undefined). Heads are
// folded into the batch for bmm and the mask is added by baddbmm, as
// PyTorch's own kernel does. With `rows` (one position per sequence) only those
// positions' outputs are computed: n x width; otherwise n x len x width.
at::Tensor NativeClip::attention(const Block& b, const at::Tensor& x, int heads, const at::Tensor& mask,
                                 const at::Tensor& rows) const {
  const int64_t n = x.size(0), len = x.size(1), width = x.size(2), head_dim = width / heads;
  const at::Tensor qkv = linear(x, b.in_proj).view({n, len, 3, heads, head_dim});
  const auto per_head = [&](const at::Tensor& t, int64_t t_len) {  // n x t_len x heads x d -> (n*heads) x t_len x d
    return t.transpose(1, 2).reshape({n * heads, t_len, head_dim});
  };
  const at::Tensor k_t = per_head(qkv.select(2, 1), len).transpose(1, 2);
  const at::Tensor v = per_head(qkv.select(2, 2), len);
  at::Tensor q = qkv.select(2, 0);
  at::Tensor scores_mask = mask;
  int64_t q_len = len;
  if (rows.defined()) {
    const at::Tensor flat_rows = at::arange(n, rows.options()) * len + rows;
    q = q.reshape({n * len, heads, head_dim}).index_select(0, flat_rows).unsqueeze(1);
    if (mask.defined())
      scores_mask = mask.index_select(0, rows).view({n, 1, 1, len}).expand({n, heads, 1, len}).reshape({n * heads, 1, len});
    q_len = 1;
  }
  q = per_head(q * (1.0 / std::sqrt(static_cast<double>(head_dim))), q_len);
  const at::Tensor scores = scores_mask.defined() ? at::baddbmm(scores_mask, q, k_t) : at::bmm(q, k_t);
  const at::Tensor out = at::bmm(at::softmax(scores, -1), v).view({n, heads, q_len, head_dim});
  const at::Tensor projected = linear(out.transpose(1, 2).reshape({n, q_len, width}), b.out_proj);
  return rows.defined() ? projected.squeeze(1) : projected;
}

NativeClip::Linear NativeClip::make_linear(const at::Tensor& weight, const at::Tensor& bias, LinearForm form) const {
  Linear layer;
  switch (form) {
    case LinearForm::packed:
      layer.packed = std::make_shared<const PackedLinear>(weight.data_ptr<float>(), bias.data_ptr<float>(),
                                                          weight.size(0), weight.size(1), *packed_text_kernel_);
      break;
    case LinearForm::int8:
      layer.int8 = prepack_int8(weight, bias);
      break;
    case LinearForm::general:
      layer.weight = precision_ == BlockPrecision::bf16 ? weight.to(at::kBFloat16) : weight;
      layer.bias = bias;
      break;
  }
  return layer;
}

at::Tensor NativeClip::linear(const at::Tensor& x, const Linear& layer) const {
  if (layer.packed) {
    const PackedLinear& p = *layer.packed;
    const at::Tensor input = x.contiguous();
    const int64_t rows = input.numel() / p.inputs();
    std::vector<int64_t> shape = input.sizes().vec();
    shape.back() = p.outputs();
    at::Tensor out = at::empty(shape, input.options());
    const float* in = input.data_ptr<float>();
    float* y = out.data_ptr<float>();
    if (t_query_products) {
      // The helper may read the input after this returns (a task it had begun
      // when this thread took it over): it holds the tensor until then.
      const auto holder = std::make_shared<const at::Tensor>(input);
      product_helper_.multiply(*t_query_products, p, std::shared_ptr<const float>(holder, in), rows, y);
      return out;
    }
    // Threads share a product by output columns, a few panel pairs each at least.
    at::parallel_for(0, p.panel_pairs(), 4, [&](int64_t first, int64_t last) { p.multiply(in, rows, y, first, last); });
    return out;
  }
  if (layer.int8) {
    // oneDNN quantises the input per call (one scale for the whole tensor) and
    // multiplies in int8 with int32 sums; the result is fp32.
    const int64_t inputs = x.size(-1);
    std::vector<int64_t> shape = x.sizes().vec();
    at::Tensor out = layer.int8->apply_dynamic(x.reshape({-1, inputs}).contiguous(), /*reduce_range=*/false);
    shape.back() = out.size(-1);
    return out.view(shape);
  }
  if (precision_ != BlockPrecision::bf16) return at::linear(x, layer.weight, layer.bias);
  // A bfloat16 product (oneDNN), its result back in fp32 before the bias: the
  // residual stream, layer norms and softmax stay fp32.
  return at::linear(x.to(at::kBFloat16), layer.weight).to(at::kFloat).add_(layer.bias);
}

at::Tensor NativeClip::mlp(const Block& b, const at::Tensor& x) const {
  at::Tensor h = linear(x, b.c_fc);
  if (quick_gelu_)
    h.mul_(at::sigmoid(h * 1.702));  // OpenAI's QuickGELU
  else
    h = at::gelu(h);  // exact (erf) GELU, nn.GELU's default
  return linear(h, b.c_proj);
}

at::Tensor NativeClip::run_tower(const Tower& tower, at::Tensor x, const at::Tensor& mask, const at::Tensor& rows) const {
  const size_t last = tower.blocks.size() - 1;
  for (size_t i = 0; i < last; ++i) {
    const Block& b = tower.blocks[i];
    x = x + attention(b, layer_norm(x, b.ln_1_w, b.ln_1_b), tower.heads, mask, at::Tensor());
    x = x + mlp(b, layer_norm(x, b.ln_2_w, b.ln_2_b));
  }
  // Nothing reads the last block's other positions: an exact saving of most of
  // its work (all but the keys and values).
  const Block& b = tower.blocks[last];
  const int64_t n = x.size(0), len = x.size(1), width = x.size(2);
  at::Tensor out = x.reshape({n * len, width}).index_select(0, at::arange(n, rows.options()) * len + rows);
  out = out + attention(b, layer_norm(x, b.ln_1_w, b.ln_1_b), tower.heads, mask, rows);
  return out + mlp(b, layer_norm(out, b.ln_2_w, b.ln_2_b));
}

at::Tensor NativeClip::encode_images(const at::Tensor& images) const {
  const int64_t n = images.size(0), p = arch_.patch_size, grid = arch_.image_resolution / arch_.patch_size;
  const int64_t width = arch_.vision_width;
  // n x 3 x R x R -> n x (grid * grid) x (3 * p * p), patches in row-major order like conv1's output.
  const at::Tensor patches = images.to(device_, at::kFloat)
                                 .view({n, 3, grid, p, grid, p})
                                 .permute({0, 2, 4, 1, 3, 5})
                                 .reshape({n, grid * grid, 3 * p * p});
  at::Tensor x = at::cat({class_embedding_.view({1, 1, width}).expand({n, 1, width}), at::matmul(patches, patch_w_)}, 1);
  x = layer_norm(x + vision_pos_, ln_pre_w_, ln_pre_b_);
  const at::Tensor class_token = at::zeros({n}, at::TensorOptions().dtype(at::kLong).device(device_));
  x = run_tower(vision_, x, at::Tensor(), class_token);  // n x width
  x = layer_norm(x, ln_post_w_, ln_post_b_);
  return l2_normalise(at::matmul(x, vision_proj_));
}

at::Tensor NativeClip::encode_texts(const at::Tensor& tokens_in, bool truncate_at_eot) const {
  const at::Tensor tokens = tokens_in.to(device_, at::kLong);
  // CLIP takes the features at the end-of-text token, the largest id.
  const at::Tensor eot = tokens.argmax(-1);
  // Under the causal mask no position sees a later one, so positions after the
  // batch's last end-of-text token change nothing that is read out.
  const int64_t len = truncate_at_eot ? eot.max().item<int64_t>() + 1 : tokens.size(1);
  // A query (a batch of texts with no more token positions in all than one
  // context) runs on the calling thread alone. Its ~150 operations take
  // 0.01-0.3 ms each; shared between threads, every one of them waits for the
  // other thread (OpenMP), and on a busy machine that thread is often not
  // running: 2 threads made a 10-token query 17x slower than 1 at load 11 on 2
  // cores (README, Performance). Its packed products alone are shared, with
  // the helper thread, which never makes the query wait.
  const bool query = device_.is_cpu() && tokens.size(0) * len <= arch_.context_length;
  const OmpThreadsInScope alone(query ? 1 : 0);
  // Only packed products are shared: elsewhere the helper would spin for nothing.
  const ProductHelper::Session products =
      product_helper_.session(packed_text_kernel_.has_value() && alone.previous() >= 2);
  const QueryProducts query_products(products);
  at::Tensor x = at::embedding(token_embedding_, tokens.narrow(1, 0, len)) + text_pos_.narrow(0, 0, len);
  x = run_tower(text_, x, causal_mask_.narrow(0, 0, len).narrow(1, 0, len), eot);  // n x width
  x = layer_norm(x, ln_final_w_, ln_final_b_);
  return l2_normalise(at::matmul(x, text_proj_));
}

}  // namespace imgsearchd
