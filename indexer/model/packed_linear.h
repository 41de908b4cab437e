// An fp32 linear layer (y = x W^T + b) stored for products with few rows: a
// text query's ~10 token vectors against every weight matrix of the text tower.
//
// General matrix-product libraries are built for many rows: at 10 rows
// OpenBLAS repacks the whole weight matrix on every call and reaches about a
// third of the CPU's peak. Here the weights are packed once, at load, into
// panels of 16 output columns stored input by input, and one pass over a panel
// multiplies it with a block of input rows held in registers: every weight is
// read from memory once per block and every load feeds one FMA per row.
// Same fp32 maths as any product (sums in another order: fp32 rounding only).
//
// Two kernels, chosen by the CPU's features at run time:
//   avx512  AVX-512F: a panel pair (32 columns) against up to 12 rows
//           (24 of the 32 zmm registers hold the sums);
//   avx2    AVX2 + FMA (Haswell and later, AMD Zen): one panel (16 columns)
//           against up to 6 rows (12 of the 16 ymm registers hold the sums).
// Elsewhere callers use a general product.
//
// No libtorch here (kept to clip_*.cpp); callers split the work between
// threads by panel pairs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace imgsearchd {

enum class PackedKernel { avx512, avx2 };

class PackedLinear {
 public:
  // Whether this CPU (and its OS) runs `kernel`'s instructions.
  static bool supports(PackedKernel kernel);
  // The fastest kernel this CPU runs; none where it has neither AVX-512F nor
  // AVX2 with FMA.
  static std::optional<PackedKernel> best();
  // Some kernel runs here (best() has a value).
  static bool supported() { return best().has_value(); }
  static const char* name(PackedKernel kernel);
  // "avx512" or "avx2"; nothing for any other text.
  static std::optional<PackedKernel> parse(const std::string& name);

  // `weight`: outputs x inputs floats, row-major (nn.Linear's layout);
  // `bias`: outputs floats. `kernel` must be supported (tests and benchmarks
  // choose one; the model takes best()).
  PackedLinear(const float* weight, const float* bias, int64_t outputs, int64_t inputs, PackedKernel kernel);

  int64_t outputs() const { return outputs_; }
  int64_t inputs() const { return inputs_; }
  PackedKernel kernel() const { return kernel_; }
  // Units of work: 32 output columns each.
  int64_t panel_pairs() const { return pairs_; }

  // y (rows x outputs, row-major) = x (rows x inputs, row-major) W^T + bias,
  // for the output columns of panel pairs [first_pair, last_pair) only, so
  // that threads can share one product.
  void multiply(const float* x, int64_t rows, float* y, int64_t first_pair, int64_t last_pair) const {
    multiply_into(x, rows, y + first_pair * 32, outputs_, first_pair, last_pair);
  }
  // The same columns into another buffer: `out` holds the first pair's first
  // column, rows `out_stride` floats apart (a thread's own buffer, for
  // example: product_helper.h).
  void multiply_into(const float* x, int64_t rows, float* out, int64_t out_stride, int64_t first_pair,
                     int64_t last_pair) const;

 private:
  int64_t outputs_, inputs_, pairs_;
  PackedKernel kernel_;
  std::vector<float> panels_;  // [outputs / 16, padded][inputs][16]; padding columns are 0
  std::vector<float> bias_;    // padded like the panels
};

}  // namespace imgsearchd
