// The packed fp32 product for few rows (indexer/model/packed_linear.h) against
// a float64 product of the same numbers, with each kernel this CPU runs (AVX-512
// and AVX2+FMA), for the shapes that exercise their edges: 1 to 30 rows (one,
// two and three row blocks of either kernel), outputs that are not a multiple
// of the 32-column panel pairs or of one 16-column panel, work split between
// "threads" by panel pairs.
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

TEST(PackedLinearTest, EachKernelIsUsedExactlyWhereTheCpuHasItsInstructions) {
  const CpuFeatures cpu = detect_cpu_features();
  EXPECT_EQ(PackedLinear::supports(PackedKernel::avx512), cpu.avx512f);
  EXPECT_EQ(PackedLinear::supports(PackedKernel::avx2), cpu.avx2 && cpu.fma);
  // The fastest one the CPU has; none without either.
  if (cpu.avx512f)
    EXPECT_EQ(PackedLinear::best(), PackedKernel::avx512);
  else if (cpu.avx2 && cpu.fma)
    EXPECT_EQ(PackedLinear::best(), PackedKernel::avx2);
  else
    EXPECT_FALSE(PackedLinear::best().has_value());
  EXPECT_EQ(PackedLinear::parse("avx2"), PackedKernel::avx2);
  EXPECT_EQ(PackedLinear::parse("avx512"), PackedKernel::avx512);
  EXPECT_FALSE(PackedLinear::parse("sse").has_value());
}

class PackedLinearKernelTest : public testing::TestWithParam<PackedKernel> {};

TEST_P(PackedLinearKernelTest, MatchesAFloat64ProductForEveryShapeAndSplit) {
  const PackedKernel kernel = GetParam();
  std::mt19937 rng(3);
  for (const Case& c : {Case{1, 32, 8}, Case{10, 1536, 512}, Case{12, 64, 17}, Case{13, 40, 33}, Case{30, 576, 192},
                        Case{7, 5, 3}, Case{25, 100, 2048}, Case{6, 16, 9}, Case{5, 48, 64}, Case{11, 20, 1}}) {
    const auto x = random_floats(static_cast<size_t>(c.rows * c.inputs), rng);
    const auto w = random_floats(static_cast<size_t>(c.outputs * c.inputs), rng);
    const auto bias = random_floats(static_cast<size_t>(c.outputs), rng);
    if (!PackedLinear::supports(kernel)) {  // the model never asks for it here; a request is a bug
      EXPECT_THROW(PackedLinear(w.data(), bias.data(), c.outputs, c.inputs, kernel), InternalError);
      continue;
    }
    const PackedLinear layer(w.data(), bias.data(), c.outputs, c.inputs, kernel);
    ASSERT_EQ(layer.outputs(), c.outputs);
    ASSERT_EQ(layer.kernel(), kernel);
    ASSERT_EQ(layer.panel_pairs(), (c.outputs + 31) / 32);
    // Sentinels around the output: nothing outside rows x outputs is written.
    const float sentinel = 12345.0f;
    std::vector<float> y(static_cast<size_t>(c.rows * c.outputs + 2), sentinel);
    float* out = y.data() + 1;
    // Two uneven "threads": pairs [0, third) and [third, all).
    const int64_t third = layer.panel_pairs() / 3;
    layer.multiply(x.data(), c.rows, out, third, layer.panel_pairs());
    layer.multiply(x.data(), c.rows, out, 0, third);
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
            << PackedLinear::name(kernel) << ": " << c.rows << "x" << c.inputs << " by " << c.outputs << ": row "
            << r << ", output " << o;
      }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryKernel, PackedLinearKernelTest, testing::Values(PackedKernel::avx512, PackedKernel::avx2),
                         [](const testing::TestParamInfo<PackedKernel>& info) {
                           return std::string(PackedLinear::name(info.param));
                         });

}  // namespace
}  // namespace imgsearchd
