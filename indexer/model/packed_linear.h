// An fp32 linear layer (y = x W^T + b) stored for products with few rows: a
// text query's ~10 token vectors against every weight matrix of the text tower.
//
// General matrix-product libraries are built for many rows: at 10 rows
// OpenBLAS repacks the whole weight matrix on every call and reaches about a
// third of the CPU's peak. Here the weights are packed once, at load, into
// panels of 16 output columns stored input by input, and one pass over a panel
// pair multiplies it with up to 12 input rows held in registers: every weight
// is read from memory once per 12 rows and every load feeds 12 to 24 FMAs.
// Same fp32 maths as any product (sums in another order: fp32 rounding only).
//
// No libtorch here (kept to clip_*.cpp); callers split the work between
// threads by panel pairs.
#pragma once

#include <cstdint>
#include <vector>

namespace imgsearchd {

class PackedLinear {
 public:
  // The AVX-512F instructions the kernel is compiled for are there (and
  // enabled by the OS). Elsewhere callers use a general product.
  static bool supported();

  // `weight`: outputs x inputs floats, row-major (nn.Linear's layout);
  // `bias`: outputs floats.
  PackedLinear(const float* weight, const float* bias, int64_t outputs, int64_t inputs);

  // Input rows multiplied per pass over the weights.
  static constexpr int64_t kRowsPerBlock = 12;

  int64_t outputs() const { return outputs_; }
  int64_t inputs() const { return inputs_; }
  // Units of work: 32 output columns each.
  int64_t panel_pairs() const { return pairs_; }

  // y (rows x outputs, row-major) = x (rows x inputs, row-major) W^T + bias,
  // for the output columns of panel pairs [first_pair, last_pair) only, so
  // that threads can share one product. Needs supported().
  void multiply(const float* x, int64_t rows, float* y, int64_t first_pair, int64_t last_pair) const;

 private:
  int64_t outputs_, inputs_, pairs_;
  std::vector<float> panels_;  // [outputs / 16, padded][inputs][16]; padding columns are 0
  std::vector<float> bias_;    // padded like the panels
};

}  // namespace imgsearchd
