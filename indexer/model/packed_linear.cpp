#include "indexer/model/packed_linear.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <immintrin.h>
#include <utility>

#include "indexer/model/blas_check.h"
#include "store/core/errors.h"

namespace imgsearchd {
namespace {

constexpr int64_t kPanel = 16;        // output columns per panel: one 512-bit register of floats
constexpr int64_t kPair = 2 * kPanel;
constexpr int kMaxRows = 12;          // avx512: 2 x 12 accumulators + 2 weight registers of the 32
constexpr int kMaxRowsAvx2 = 6;       // avx2: 2 x 6 accumulators + 2 weights + 1 broadcast of the 16

// 16 floats, loaded and stored unaligned (memcpy); GCC lowers the arithmetic
// to AVX-512 in the functions compiled for it below.
typedef float Floats16 __attribute__((vector_size(64)));

// One panel pair against `Rows` input rows: y[r][0..32) = bias + sum_k x[r][k] * panel[k][0..32).
// `columns` (1..32) of the 32 are stored (the last pair may be padding).
template <int Rows>
__attribute__((target("avx512f"))) void panel_pair_kernel(const float* x, int64_t inputs, const float* panel0,
                                                          const float* panel1, const float* bias, float* y,
                                                          int64_t y_stride, int64_t columns) {
  Floats16 acc0[Rows], acc1[Rows], b0, b1;
  std::memcpy(&b0, bias, sizeof b0);
  std::memcpy(&b1, bias + kPanel, sizeof b1);
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) acc0[r] = b0, acc1[r] = b1;
  for (int64_t k = 0; k < inputs; ++k) {
    Floats16 w0, w1;
    std::memcpy(&w0, panel0 + k * kPanel, sizeof w0);
    std::memcpy(&w1, panel1 + k * kPanel, sizeof w1);
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      const float s = x[r * inputs + k];
      acc0[r] += w0 * s;
      acc1[r] += w1 * s;
    }
  }
  if (columns == kPair) {
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      std::memcpy(y + r * y_stride, &acc0[r], sizeof acc0[r]);
      std::memcpy(y + r * y_stride + kPanel, &acc1[r], sizeof acc1[r]);
    }
    return;
  }
  for (int r = 0; r < Rows; ++r) {
    float row[kPair];
    std::memcpy(row, &acc0[r], sizeof acc0[r]);
    std::memcpy(row + kPanel, &acc1[r], sizeof acc1[r]);
    std::memcpy(y + r * y_stride, row, sizeof(float) * static_cast<size_t>(columns));
  }
}

// One panel (16 columns, two 256-bit halves) against `Rows` input rows, with
// AVX2 and FMA: y[r][0..16) = bias + sum_k x[r][k] * panel[k][0..16).
// `columns` (1..16) of the 16 are stored. `next` (or null): the panel the
// next call reads, fetched into L2 here, one cache line per step.
template <int Rows>
__attribute__((target("avx2,fma"))) void panel_kernel_avx2(const float* x, int64_t inputs, const float* panel,
                                                          const float* bias, float* y, int64_t y_stride,
                                                          int64_t columns, const float* next) {
  __m256 acc0[Rows], acc1[Rows];
  const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) acc0[r] = b0, acc1[r] = b1;
  for (int64_t k = 0; k < inputs; ++k) {
    if (next) _mm_prefetch(reinterpret_cast<const char*>(next + k * kPanel), _MM_HINT_T1);
    const __m256 w0 = _mm256_loadu_ps(panel + k * kPanel), w1 = _mm256_loadu_ps(panel + k * kPanel + 8);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const __m256 s = _mm256_broadcast_ss(x + r * inputs + k);
      acc0[r] = _mm256_fmadd_ps(w0, s, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(w1, s, acc1[r]);
    }
  }
  if (columns == kPanel) {
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      _mm256_storeu_ps(y + r * y_stride, acc0[r]);
      _mm256_storeu_ps(y + r * y_stride + 8, acc1[r]);
    }
    return;
  }
  // Unrolled too: a loop indexing the sums by a run-time row would keep them
  // in memory, and GCC then stores all 12 on every step of the loop above.
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    alignas(32) float row[kPanel];
    _mm256_store_ps(row, acc0[r]);
    _mm256_store_ps(row + 8, acc1[r]);
    std::memcpy(y + r * y_stride, row, sizeof(float) * static_cast<size_t>(columns));
  }
}

using PairKernel = void (*)(const float*, int64_t, const float*, const float*, const float*, float*, int64_t, int64_t);
using PanelKernel = void (*)(const float*, int64_t, const float*, const float*, float*, int64_t, int64_t,
                             const float*);

template <int... I>
constexpr std::array<PairKernel, sizeof...(I)> avx512_kernels_for_rows(std::integer_sequence<int, I...>) {
  return {&panel_pair_kernel<I + 1>...};
}
template <int... I>
constexpr std::array<PanelKernel, sizeof...(I)> avx2_kernels_for_rows(std::integer_sequence<int, I...>) {
  return {&panel_kernel_avx2<I + 1>...};
}
constexpr auto kAvx512Kernels = avx512_kernels_for_rows(std::make_integer_sequence<int, kMaxRows>{});
constexpr auto kAvx2Kernels = avx2_kernels_for_rows(std::make_integer_sequence<int, kMaxRowsAvx2>{});

}  // namespace

bool PackedLinear::supports(PackedKernel kernel) {
  static const CpuFeatures cpu = detect_cpu_features();
  switch (kernel) {
    case PackedKernel::avx512:
      return cpu.avx512f;
    case PackedKernel::avx2:
      return cpu.avx2 && cpu.fma;
  }
  return false;
}

std::optional<PackedKernel> PackedLinear::best() {
  for (const PackedKernel kernel : {PackedKernel::avx512, PackedKernel::avx2})
    if (supports(kernel)) return kernel;
  return std::nullopt;
}

const char* PackedLinear::name(PackedKernel kernel) {
  return kernel == PackedKernel::avx512 ? "avx512" : "avx2";
}

std::optional<PackedKernel> PackedLinear::parse(const std::string& name) {
  for (const PackedKernel kernel : {PackedKernel::avx512, PackedKernel::avx2})
    if (name == PackedLinear::name(kernel)) return kernel;
  return std::nullopt;
}

PackedLinear::PackedLinear(const float* weight, const float* bias, int64_t outputs, int64_t inputs,
                           PackedKernel kernel)
    : outputs_(outputs), inputs_(inputs), pairs_((outputs + kPair - 1) / kPair), kernel_(kernel) {
  IMGSEARCHD_CHECK(outputs > 0 && inputs > 0, "a linear layer with no weights");
  IMGSEARCHD_CHECK(supports(kernel), std::string("the packed fp32 product's ") + name(kernel) +
                                         " kernel needs instructions this CPU lacks");
  const int64_t padded = pairs_ * kPair;
  panels_.assign(static_cast<size_t>(padded * inputs), 0.0f);
  bias_.assign(static_cast<size_t>(padded), 0.0f);
  std::copy(bias, bias + outputs, bias_.begin());
  for (int64_t o = 0; o < outputs; ++o)
    for (int64_t i = 0; i < inputs; ++i)
      panels_[static_cast<size_t>((o / kPanel) * inputs * kPanel + i * kPanel + o % kPanel)] = weight[o * inputs + i];
}

void PackedLinear::multiply_into(const float* x, int64_t rows, float* out, int64_t out_stride, int64_t first_pair,
                                 int64_t last_pair) const {
  const int64_t first_column = first_pair * kPair;  // column c of row r is out[r * out_stride + c - first_column]
  // Pair by pair (avx2: panel by panel), all row blocks: a panel pair (64 KB
  // at 512 inputs) stays in cache while the rows pass over it.
  for (int64_t pair = first_pair; pair < last_pair; ++pair) {
    const float* panel0 = panels_.data() + pair * 2 * inputs_ * kPanel;
    const int64_t column = pair * kPair;
    const int64_t columns = std::min(kPair, outputs_ - column);
    if (kernel_ == PackedKernel::avx512) {
      for (int64_t row = 0; row < rows; row += kMaxRows) {
        const int64_t block = std::min<int64_t>(kMaxRows, rows - row);
        float* const y = out + row * out_stride + (column - first_column);
        kAvx512Kernels[static_cast<size_t>(block - 1)](x + row * inputs_, inputs_, panel0, panel0 + inputs_ * kPanel,
                                                       bias_.data() + column, y, out_stride, columns);
      }
      continue;
    }
    for (int64_t half = 0; half < 2 && half * kPanel < columns; ++half) {
      const float* panel = panel0 + half * inputs_ * kPanel;
      const int64_t panel_column = column + half * kPanel;
      const int64_t panel_columns = std::min(kPanel, columns - half * kPanel);
      // With more than one row block, the later blocks read the panel from
      // cache and the memory would idle meanwhile: the last one fetches the
      // next panel.
      const float* next = panel + inputs_ * kPanel;
      const bool last_panel = pair + 1 == last_pair && (half == 1 || columns <= kPanel);
      for (int64_t row = 0; row < rows; row += kMaxRowsAvx2) {
        const int64_t block = std::min<int64_t>(kMaxRowsAvx2, rows - row);
        const bool fetch = row > 0 && row + block == rows && !last_panel;
        float* const y = out + row * out_stride + (panel_column - first_column);
        kAvx2Kernels[static_cast<size_t>(block - 1)](x + row * inputs_, inputs_, panel, bias_.data() + panel_column, y,
                                                     out_stride, panel_columns, fetch ? next : nullptr);
      }
    }
  }
}

}  // namespace imgsearchd
