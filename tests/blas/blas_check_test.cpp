// Which OpenBLAS kernels imgsearchd runs: the decision from CPU features,
// OpenBLAS's own choice and the user's OPENBLAS_CORETYPE; the start-up check
// that catches a wrong product; and what the real binary logs.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <dlfcn.h>
#include <filesystem>
#include <limits>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "indexer/model/blas_check.h"
#include "tests/support/process.h"
#include "tests/support/scratch.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;

CpuFeatures avx512_cpu(bool bf16) {
  CpuFeatures cpu;
  cpu.avx = cpu.avx2 = cpu.fma = true;
  cpu.avx512f = cpu.avx512bw = cpu.avx512dq = cpu.avx512vl = cpu.avx512_vnni = true;
  cpu.avx512_bf16 = bf16;
  return cpu;
}

CpuFeatures avx2_cpu() {
  CpuFeatures cpu;
  cpu.avx = cpu.avx2 = cpu.fma = true;
  return cpu;
}

TEST(BlasKernelDecision, XeonWhereOpenBlasPicksSse3GetsSkylakeX) {
  // The build machines' case: AVX-512 (no BF16 here), OpenBLAS says Prescott.
  const BlasKernelDecision d = decide_blas_kernels(avx512_cpu(false), "Prescott", nullptr);
  EXPECT_TRUE(d.set_core);
  EXPECT_EQ(d.core, "SkylakeX");
  EXPECT_NE(d.reason.find("Prescott"), std::string::npos) << d.reason;
}

TEST(BlasKernelDecision, Bf16CpuGetsSkylakeXForItsFp32Products) {
  // Cooperlake's extra (bf16) routines are not what libtorch calls.
  const BlasKernelDecision d = decide_blas_kernels(avx512_cpu(true), "Haswell", nullptr);
  EXPECT_TRUE(d.set_core);
  EXPECT_EQ(d.core, "SkylakeX");
}

TEST(BlasKernelDecision, Avx2CpuWithGenericKernelsGetsHaswell) {
  const BlasKernelDecision d = decide_blas_kernels(avx2_cpu(), "Nehalem", nullptr);
  EXPECT_TRUE(d.set_core);
  EXPECT_EQ(d.core, "Haswell");
}

TEST(BlasKernelDecision, OpenBlasAlreadyRunningTheBestIsLeftAlone) {
  EXPECT_FALSE(decide_blas_kernels(avx512_cpu(true), "Cooperlake", nullptr).set_core);
  EXPECT_FALSE(decide_blas_kernels(avx512_cpu(false), "SkylakeX", nullptr).set_core);
  // Zen runs Haswell's kernels: as good as anything an AVX2 CPU can run.
  EXPECT_FALSE(decide_blas_kernels(avx2_cpu(), "Zen", nullptr).set_core);
  // A newer core than we know of is never downgraded.
  EXPECT_FALSE(decide_blas_kernels(avx512_cpu(true), "SapphireRapids", nullptr).set_core);
}

TEST(BlasKernelDecision, UsersOwnValueIsNeverOverridden) {
  const BlasKernelDecision d = decide_blas_kernels(avx512_cpu(false), "Prescott", "Prescott");
  EXPECT_FALSE(d.set_core);
  EXPECT_NE(d.reason.find("OPENBLAS_CORETYPE=Prescott"), std::string::npos) << d.reason;
}

TEST(BlasKernelDecision, NothingToDoWithoutOpenBlasOrWithoutAvx) {
  EXPECT_FALSE(decide_blas_kernels(avx512_cpu(false), "", nullptr).set_core);
  EXPECT_FALSE(decide_blas_kernels(CpuFeatures{}, "Prescott", nullptr).set_core);
}

TEST(BlasKernelDecision, AvxWithoutItsOsSupportIsNotAvx512) {
  // describe() and best_openblas_core() only see what detect_cpu_features()
  // counted: AVX-512 flags without AVX2/FMA give no SkylakeX.
  CpuFeatures odd;
  odd.avx = true;
  odd.avx512f = odd.avx512bw = odd.avx512dq = odd.avx512vl = true;
  EXPECT_EQ(best_openblas_core(odd), "Sandybridge");
}

// A plain column-major reference sgemm, and ways to get it wrong.
enum class Fault { none, ignore_transpose, one_element, nan };
Fault fault = Fault::none;

void reference_sgemm(const char* transa, const char* /*transb*/, const int* m, const int* n, const int* k,
                     const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                     const float* beta, float* c, const int* ldc) {
  const bool t = (*transa == 'T' || *transa == 't') && fault != Fault::ignore_transpose;
  for (int j = 0; j < *n; ++j) {
    for (int i = 0; i < *m; ++i) {
      double sum = 0;
      for (int p = 0; p < *k; ++p) sum += (t ? a[i * *lda + p] : a[p * *lda + i]) * b[j * *ldb + p];
      c[j * *ldc + i] = static_cast<float>(*alpha * sum + *beta * c[j * *ldc + i]);
    }
  }
  if (fault == Fault::one_element) c[5 * *ldc + 7] += 0.5f;
  if (fault == Fault::nan) c[0] = std::numeric_limits<float>::quiet_NaN();
}

TEST(BlasProductCheck, CorrectProductPasses) {
  fault = Fault::none;
  EXPECT_EQ(check_sgemm(reference_sgemm), "");
}

TEST(BlasProductCheck, WrongProductsAreCaught) {
  for (const Fault f : {Fault::ignore_transpose, Fault::one_element, Fault::nan}) {
    fault = f;
    const std::string problem = check_sgemm(reference_sgemm);
    EXPECT_NE(problem.find("differs from a float64 product"), std::string::npos)
        << "fault " << static_cast<int>(f) << ": " << problem;
  }
  fault = Fault::none;
  // It names where: the one wrong element is row 7, column 5.
  fault = Fault::one_element;
  EXPECT_NE(check_sgemm(reference_sgemm).find("row 7, column 5"), std::string::npos);
  fault = Fault::none;
}

TEST(BlasProductCheck, LoadedOpenBlasPasses) {
  const auto sgemm = reinterpret_cast<SgemmFunction>(dlsym(RTLD_DEFAULT, "sgemm_"));
  ASSERT_NE(sgemm, nullptr) << "libtorch's BLAS is not loaded in the test binary";
  EXPECT_EQ(check_sgemm(sgemm), "");
}

// The real binary, one model load, its stderr.
const fs::path kModel = fs::path(IMGSEARCHD_TEST_WORK_DIR) / "model" / "small" / "openai" / "model.pt";

// `environment`: NAME=value settings, on top of the test's own environment
// less OPENBLAS_CORETYPE and IMGSEARCHD_BLAS_REEXEC.
std::string blas_log_line(const std::vector<std::string>& environment) {
  const std::vector<std::string> args = {"embed", "-m", kModel.string(), "-t", "a dog"};
  const test::CommandResult run =
      test::run_imgsearchd(args, test::fresh_dir("blas"), {environment, {"OPENBLAS_CORETYPE", "IMGSEARCHD_BLAS_REEXEC"}});
  const std::string& out = run.err;
  if (run.exit_code != 0) return "command failed: imgsearchd embed (exit " + std::to_string(run.exit_code) + ")\n" + out;
  const size_t at = out.find("model: BLAS ");
  if (at == std::string::npos) return "no BLAS line in: " + out;
  return out.substr(at, out.find('\n', at) - at);
}

TEST(BlasKernelSelection, BinaryLeavesTheUsersCoreAlone) {
  // Prescott (SSE3) is weaker than anything an x86-64 CPU with AVX supports:
  // without the user's say-so imgsearchd would replace it.
  const std::string line = blas_log_line({"OPENBLAS_CORETYPE=Prescott"});
  EXPECT_NE(line.find("running Prescott, set by the user (OPENBLAS_CORETYPE=Prescott)"), std::string::npos) << line;
  EXPECT_NE(line.find("start-up product check passed"), std::string::npos) << line;
}

TEST(BlasKernelSelection, BinaryRunsTheBestKernelsTheCpuSupports) {
  const BlasKernelReport& here = blas_kernel_report();
  ASSERT_FALSE(here.running.empty()) << "no OpenBLAS under libtorch";
  const std::string line = blas_log_line({});
  const std::string best = here.best_core.empty() ? here.running : here.best_core;
  // Either OpenBLAS found the best core by itself or imgsearchd set it.
  const size_t running = line.find("running ");
  ASSERT_NE(running, std::string::npos) << line;
  const std::string core = line.substr(running + 8, line.find(',', running) - running - 8);
  EXPECT_GE(openblas_core_rank(core), openblas_core_rank(best)) << line;
  EXPECT_NE(line.find("check passed"), std::string::npos) << line;
}

TEST(BlasKernelSelection, ReexecutedProcessReportsWhatImgsearchdChose) {
  // The state a re-executed process starts in (imgsearchd set the variable
  // and the guard): it keeps the core, says who chose it and what OpenBLAS
  // had picked, and checks the product.
  const BlasKernelReport& here = blas_kernel_report();
  ASSERT_FALSE(here.running.empty());
  const std::string line = blas_log_line({"OPENBLAS_CORETYPE=" + here.running, "IMGSEARCHD_BLAS_REEXEC=set:Prescott"});
  EXPECT_NE(line.find("running " + here.running + ", set by imgsearchd, OpenBLAS alone chose Prescott"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("check passed"), std::string::npos) << line;
}

}  // namespace
}  // namespace imgsearchd
