// What the BLAS under libtorch runs, and making it run the best kernels the
// CPU supports. No libtorch here.
//
// Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels from CPUID when it loads,
// and on some machines (Intel Xeons under a hypervisor) it picks SSE3
// ("Prescott") kernels on a CPU with AVX-512: 4-5x slower. It reads
// OPENBLAS_CORETYPE only when it loads, so select_blas_kernels() sets it and
// re-executes the binary, once, at the very start of main.
#pragma once

#include <string>

namespace imgsearchd {

// Empty when fine; otherwise what is wrong and how to fix it. OpenBLAS built
// with pthreads runs its own thread pool beside libtorch's OpenMP one, and on
// a machine with as many cores as threads the two make inference 5-10x slower
// (Debian's default for libopenblas.so.0 when both builds are installed).
std::string blas_threading_problem();

// The instruction sets that decide which OpenBLAS kernels can run (CPUID
// flags, counted only where the OS saves the registers they use).
struct CpuFeatures {
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512dq = false;
  bool avx512vl = false;
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
};
CpuFeatures detect_cpu_features();
// "avx2 fma avx512f ..." (what is present).
std::string describe(const CpuFeatures& cpu);

// The best OpenBLAS 0.3.x x86-64 core for fp32 products whose kernels the CPU
// can run: "SkylakeX", "Haswell", "Sandybridge", or "" (SSE only).
std::string best_openblas_core(const CpuFeatures& cpu);

// How capable a core's fp32 kernels are (0: SSE or unknown ... 4:
// SapphireRapids); cores with the same fp32 kernels share a rank (Haswell
// and Zen; SkylakeX and Cooperlake).
int openblas_core_rank(const std::string& core);

// What to do about the kernels, from what is known at start.
struct BlasKernelDecision {
  bool set_core = false;  // set OPENBLAS_CORETYPE=core and re-execute
  std::string core;       // the core to set (when set_core)
  std::string reason;     // one sentence for the log
};
// reported_core: what OpenBLAS runs now ("" when OpenBLAS is not loaded);
// user_value: OPENBLAS_CORETYPE as the user set it (nullptr when unset),
// which is never overridden.
BlasKernelDecision decide_blas_kernels(const CpuFeatures& cpu, const std::string& reported_core,
                                       const char* user_value);

// Fortran sgemm_, the BLAS entry point libtorch calls.
using SgemmFunction = void (*)(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                               const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                               const float* beta, float* c, const int* ldc);
// Multiplies fixed matrices with `sgemm` (both transpose cases libtorch uses,
// sizes large enough for the main kernels, not the small-matrix ones) and
// compares with a float64 product: empty when they agree, else the worst
// difference and where it is.
std::string check_sgemm(SgemmFunction sgemm);

// What was detected and chosen at start, for the log and for `status`.
struct BlasKernelReport {
  std::string library;     // "OpenBLAS 0.3.21 ... USE_OPENMP ..." or "no OpenBLAS loaded"
  std::string cpu;         // describe(detect_cpu_features())
  std::string best_core;   // best_openblas_core() for this CPU
  std::string own_choice;  // what OpenBLAS picked by itself (before any re-exec)
  std::string running;     // what it runs now
  std::string source;      // "OpenBLAS's own choice", "set by imgsearchd", "set by the user", "fallback"
  std::string check;       // "" when the start-up product matched, else what differed
  std::string summary() const;  // one line
};
// Computed on first use (select_blas_kernels computes it at start).
const BlasKernelReport& blas_kernel_report();

// Call first in main, before any thread starts. When OpenBLAS runs weaker
// kernels than the CPU supports and the user has not set OPENBLAS_CORETYPE,
// sets it and re-executes /proc/self/exe with the same arguments (once: a
// guard variable marks the re-executed process). After a re-exec it checks
// the chosen kernels' products and, when they are wrong, re-executes once more
// without the variable, with a warning. Returns only in the process that goes on.
void select_blas_kernels(char** argv);

}  // namespace imgsearchd
