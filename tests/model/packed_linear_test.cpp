// The packed fp32 product for few rows (indexer/model/packed_linear.h) against
// a float64 product of the same numbers, for the shapes that exercise its
// edges: 1 to 30 rows (one, two and three 12-row blocks), outputs that are not
// a multiple of its 32-column panel pairs, work split between "threads" by
// panel pairs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "indexer/model/blas_check.h"
#include "indexer/model/packed_linear.h"
#include "store/core/errors.h"

namespace imgsearchd {
namespace {

struct Case {
  int64_t rows, outputs, inputs;
};

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& f : v) f = normal(rng);
  return v;
}

TEST(PackedLinearTest, IsUsedExactlyWhereTheCpuHasAvx512) {
  EXPECT_EQ(PackedLinear::supported(), detect_cpu_features().avx512f);
}

TEST(PackedLinearTest, MatchesAFloat64ProductForEveryShapeAndSplit) {
  std::mt19937 rng(3);
  for (const Case& c : {Case{1, 32, 8}, Case{10, 1536, 512}, Case{12, 64, 17}, Case{13, 40, 33}, Case{30, 576, 192},
                        Case{7, 5, 3}, Case{25, 100, 2048}}) {
    const auto x = random_floats(static_cast<size_t>(c.rows * c.inputs), rng);
    const auto w = random_floats(static_cast<size_t>(c.outputs * c.inputs), rng);
    const auto bias = random_floats(static_cast<size_t>(c.outputs), rng);
    const PackedLinear layer(w.data(), bias.data(), c.outputs, c.inputs);
    ASSERT_EQ(layer.outputs(), c.outputs);
    ASSERT_EQ(layer.panel_pairs(), (c.outputs + 31) / 32);
    // Sentinels around the output: nothing outside rows x outputs is written.
    const float sentinel = 12345.0f;
    std::vector<float> y(static_cast<size_t>(c.rows * c.outputs + 2), sentinel);
    float* out = y.data() + 1;
    // Two uneven "threads": pairs [0, half) and [half, all).
    const int64_t half = layer.panel_pairs() / 3;
    if (!PackedLinear::supported()) {  // the model uses the general product there; a call is a bug
      EXPECT_THROW(layer.multiply(x.data(), c.rows, out, 0, half), InternalError);
      continue;
    }
    layer.multiply(x.data(), c.rows, out, half, layer.panel_pairs());
    layer.multiply(x.data(), c.rows, out, 0, half);
    EXPECT_EQ(y.front(), sentinel);
    EXPECT_EQ(y.back(), sentinel);
    for (int64_t r = 0; r < c.rows; ++r)
      for (int64_t o = 0; o < c.outputs; ++o) {
        double exact = bias[o], magnitude = std::fabs(bias[o]);
        for (int64_t i = 0; i < c.inputs; ++i) {
          exact += double(x[r * c.inputs + i]) * w[o * c.inputs + i];
          magnitude += std::fabs(double(x[r * c.inputs + i]) * w[o * c.inputs + i]);
        }
        // fp32 sums of `inputs` terms: a few units of rounding of their magnitude.
        ASSERT_NEAR(out[r * c.outputs + o], exact, 1e-6 * magnitude + 1e-6)
            << c.rows << "x" << c.inputs << " by " << c.outputs << ": row " << r << ", output " << o;
      }
  }
}

}  // namespace
}  // namespace imgsearchd
