#include "indexer/model/blas_check.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace imgsearchd {

std::string blas_threading_problem() {
  // OpenBLAS's own report of how it was built: 0 sequential, 1 pthreads, 2 OpenMP.
  using GetParallel = int (*)();
  const auto get_parallel = reinterpret_cast<GetParallel>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  if (get_parallel == nullptr || get_parallel() != 1) return "";
  return "the loaded OpenBLAS uses pthreads while libtorch uses OpenMP; their thread pools compete and inference "
         "runs several times slower. Select the OpenMP build: update-alternatives --set "
         "libopenblas.so.0-$(dpkg-architecture -qDEB_HOST_MULTIARCH) "
         "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/openblas-openmp/libopenblas.so.0 "
         "(scripts/setup.sh does this)";
}

CpuFeatures detect_cpu_features() {
  CpuFeatures cpu;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return cpu;
  const bool osxsave = c & (1u << 27);
  if (!osxsave) return cpu;  // the OS saves no extended registers: SSE only
  // Which register files the OS saves on a context switch (XCR0): without
  // them the instructions fault even where CPUID lists them.
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool os_ymm = (xcr0_lo & 0x6u) == 0x6u;             // SSE and AVX state
  const bool os_zmm = os_ymm && (xcr0_lo & 0xE0u) == 0xE0u;  // opmask and both ZMM halves
  cpu.avx = os_ymm && (c & (1u << 28));
  cpu.fma = os_ymm && (c & (1u << 12));
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    cpu.avx2 = os_ymm && (b & (1u << 5));
    cpu.avx512f = os_zmm && (b & (1u << 16));
    cpu.avx512dq = os_zmm && (b & (1u << 17));
    cpu.avx512bw = os_zmm && (b & (1u << 30));
    cpu.avx512vl = os_zmm && (b & (1u << 31));
    cpu.avx512_vnni = os_zmm && (c & (1u << 11));
    const unsigned subleaves = a;
    if (subleaves >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      cpu.avx512_bf16 = os_zmm && (a & (1u << 5));
    }
  }
#endif
  return cpu;
}

std::string describe(const CpuFeatures& cpu) {
  std::string out;
  const std::pair<bool, const char*> flags[] = {
      {cpu.avx, "avx"},           {cpu.avx2, "avx2"},         {cpu.fma, "fma"},
      {cpu.avx512f, "avx512f"},   {cpu.avx512bw, "avx512bw"}, {cpu.avx512dq, "avx512dq"},
      {cpu.avx512vl, "avx512vl"}, {cpu.avx512_vnni, "avx512_vnni"}, {cpu.avx512_bf16, "avx512_bf16"}};
  for (const auto& [present, name] : flags) {
    if (!present) continue;
    out += (out.empty() ? "" : " ") + std::string(name);
  }
  return out.empty() ? "SSE only" : out;
}

std::string best_openblas_core(const CpuFeatures& cpu) {
  // OpenBLAS's own requirements (driver/others/dynamic.c, 0.3.21).
  // Cooperlake adds only bfloat16 routines (sbgemm) that libtorch does not
  // call (its bf16 products go through oneDNN): for our fp32 products
  // SkylakeX is the best, and measured no slower (README, Performance).
  const bool skylakex = cpu.avx512f && cpu.avx512bw && cpu.avx512dq && cpu.avx512vl && cpu.avx2 && cpu.fma;
  if (skylakex) return "SkylakeX";
  if (cpu.avx2 && cpu.fma) return "Haswell";
  if (cpu.avx) return "Sandybridge";
  return "";
}

int openblas_core_rank(const std::string& core) {
  // OpenBLAS's x86-64 core names (openblas_get_corename()). The AMD cores
  // before Zen have their own AVX kernels; Zen runs Haswell's.
  static const std::map<std::string, int, std::less<>> ranks = {
      {"Sandybridge", 1}, {"Bulldozer", 1}, {"Piledriver", 1}, {"Steamroller", 1}, {"Excavator", 1},
      {"Haswell", 2},     {"Zen", 2},       {"SkylakeX", 3},   {"Cooperlake", 3}, {"SapphireRapids", 4}};
  for (const auto& [name, rank] : ranks) {
    if (strcasecmp(name.c_str(), core.c_str()) == 0) return rank;
  }
  return 0;
}

BlasKernelDecision decide_blas_kernels(const CpuFeatures& cpu, const std::string& reported_core,
                                       const char* user_value) {
  const std::string best = best_openblas_core(cpu);
  if (reported_core.empty()) return {false, "", "no OpenBLAS loaded; nothing to choose"};
  if (user_value != nullptr)
    return {false, "", "OPENBLAS_CORETYPE=" + std::string(user_value) + " was set by the user; left as it is"};
  if (best.empty() || openblas_core_rank(reported_core) >= openblas_core_rank(best))
    return {false, "", "OpenBLAS's own choice " + reported_core + " is the best this CPU supports"};
  return {true, best,
          "OpenBLAS chose " + reported_core + " kernels on a CPU that supports " + best + "; using " + best};
}

namespace {

// Deterministic values in [-1, 1] with no pattern a wrong kernel could match.
std::vector<float> test_matrix(int rows, int cols, unsigned seed) {
  std::vector<float> m(static_cast<size_t>(rows) * cols);
  unsigned state = seed;
  for (float& v : m) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  }
  return m;
}

}  // namespace

std::string check_sgemm(SgemmFunction sgemm) {
  // Column-major C (m x n) = op(A) (m x k) * B (k x n). Odd sizes reach the
  // kernels' edge cases; m * n * k is above OpenBLAS's small-matrix path.
  const int m = 131, n = 70, k = 149;
  const std::vector<float> b = test_matrix(k, n, 2);
  for (const char transa : {'N', 'T'}) {
    // A as stored: m x k for 'N' (lda = m), k x m for 'T' (lda = k).
    const std::vector<float> a = test_matrix(transa == 'N' ? m : k, transa == 'N' ? k : m, 1);
    const int lda = transa == 'N' ? m : k;
    std::vector<float> c(static_cast<size_t>(m) * n, 0.0f);
    const float one = 1.0f, zero = 0.0f;
    const char transb = 'N';
    sgemm(&transa, &transb, &m, &n, &k, &one, a.data(), &lda, b.data(), &k, &zero, c.data(), &m);
    double worst = 0;
    int worst_i = 0, worst_j = 0;
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        double expected = 0;
        for (int p = 0; p < k; ++p) {
          const float a_ip = transa == 'N' ? a[static_cast<size_t>(p) * m + i] : a[static_cast<size_t>(i) * k + p];
          expected += static_cast<double>(a_ip) * b[static_cast<size_t>(j) * k + p];
        }
        double error = std::fabs(c[static_cast<size_t>(j) * m + i] - expected);
        if (std::isnan(error)) error = std::numeric_limits<double>::infinity();
        if (error > worst) {
          worst = error;
          worst_i = i;
          worst_j = j;
        }
      }
    }
    // fp32 sums of 149 products of values in [-1, 1] are off by about 1e-5 at
    // most; a wrong kernel is off by the size of the values.
    if (worst > 1e-3)
      return "sgemm (transa=" + std::string(1, transa) + ", " + std::to_string(m) + "x" + std::to_string(n) + "x" +
             std::to_string(k) + ") differs from a float64 product by " + std::to_string(worst) + " at row " +
             std::to_string(worst_i) + ", column " + std::to_string(worst_j);
  }
  return "";
}

namespace {

constexpr const char* kCoreVariable = "OPENBLAS_CORETYPE";
// Marks a process that imgsearchd re-executed: "set:<OpenBLAS's own choice>"
// after setting OPENBLAS_CORETYPE, "fallback:<own choice>:<rejected core>"
// after taking it away again.
constexpr const char* kGuardVariable = "IMGSEARCHD_BLAS_REEXEC";

std::string openblas_string(const char* symbol) {
  using GetString = char* (*)();
  const auto get = reinterpret_cast<GetString>(dlsym(RTLD_DEFAULT, symbol));
  if (get == nullptr) return "";
  const char* value = get();
  return value != nullptr ? value : "";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

// The report as far as the environment tells it, without running a product.
BlasKernelReport observe() {
  BlasKernelReport r;
  const CpuFeatures cpu = detect_cpu_features();
  r.cpu = describe(cpu);
  r.best_core = best_openblas_core(cpu);
  r.running = openblas_string("openblas_get_corename");
  r.library = r.running.empty() ? "no OpenBLAS loaded" : trim(openblas_string("openblas_get_config"));
  r.own_choice = r.running;
  r.source = "OpenBLAS's own choice";
  const char* guard = std::getenv(kGuardVariable);
  const std::string g = guard != nullptr ? guard : "";
  if (g.rfind("set:", 0) == 0) {
    r.own_choice = g.substr(4);
    r.source = "set by imgsearchd";
  } else if (g.rfind("fallback:", 0) == 0) {
    const std::string rest = g.substr(9);
    const size_t colon = rest.find(':');
    r.own_choice = rest.substr(0, colon);
    r.source = "fallback: " + (colon == std::string::npos ? std::string("the chosen core") : rest.substr(colon + 1)) +
               " gave wrong products";
  } else if (std::getenv(kCoreVariable) != nullptr) {
    r.source = "set by the user (OPENBLAS_CORETYPE=" + std::string(std::getenv(kCoreVariable)) + ")";
  }
  return r;
}

std::mutex report_mutex;
bool report_ready = false;
BlasKernelReport report_value;

void store_report(const BlasKernelReport& r) {
  std::lock_guard lock(report_mutex);
  report_value = r;
  report_ready = true;
}

SgemmFunction loaded_sgemm() { return reinterpret_cast<SgemmFunction>(dlsym(RTLD_DEFAULT, "sgemm_")); }

// Replaces this process with the same binary and arguments; returns only on failure.
void reexecute(char** argv) {
  std::fflush(nullptr);
  execv("/proc/self/exe", argv);
  spdlog::warn("BLAS: could not re-execute /proc/self/exe to apply OPENBLAS_CORETYPE ({}); going on with the "
               "current kernels",
               std::strerror(errno));
}

}  // namespace

std::string BlasKernelReport::summary() const {
  if (running.empty()) return library + "; CPU: " + cpu;
  std::string line = library + "; CPU: " + cpu + " (best OpenBLAS kernels: " +
                     (best_core.empty() ? std::string("generic") : best_core) + "); running " + running + ", " +
                     source;
  if (own_choice != running) line += ", OpenBLAS alone chose " + own_choice;
  line += check.empty() ? "; start-up product check passed" : "; start-up product check FAILED: " + check;
  return line;
}

const BlasKernelReport& blas_kernel_report() {
  std::lock_guard lock(report_mutex);
  if (!report_ready) {
    report_value = observe();
    if (!report_value.running.empty()) {
      if (const SgemmFunction sgemm = loaded_sgemm()) report_value.check = check_sgemm(sgemm);
    }
    report_ready = true;
  }
  return report_value;
}

void select_blas_kernels(char** argv) {
  BlasKernelReport r = observe();
  if (r.running.empty()) {
    store_report(r);
    return;
  }
  const SgemmFunction sgemm = loaded_sgemm();
  const char* guard = std::getenv(kGuardVariable);
  if (guard == nullptr) {
    const char* user_value = std::getenv(kCoreVariable);
    const BlasKernelDecision decision = decide_blas_kernels(detect_cpu_features(), r.running, user_value);
    if (decision.set_core) {
      setenv(kCoreVariable, decision.core.c_str(), 1);
      setenv(kGuardVariable, ("set:" + r.running).c_str(), 1);
      reexecute(argv);
      unsetenv(kCoreVariable);
      unsetenv(kGuardVariable);
    }
  }
  r.check = sgemm != nullptr ? check_sgemm(sgemm) : "no sgemm_ symbol to check";
  if (!r.check.empty() && r.source == "set by imgsearchd") {
    spdlog::warn("BLAS: the {} kernels imgsearchd chose give wrong products ({}); falling back to OpenBLAS's own "
                 "choice, {}",
                 r.running, r.check, r.own_choice);
    setenv(kGuardVariable, ("fallback:" + r.own_choice + ":" + r.running).c_str(), 1);
    unsetenv(kCoreVariable);
    reexecute(argv);
  } else if (!r.check.empty()) {
    spdlog::warn("BLAS: OpenBLAS's {} kernels give wrong products ({}); embeddings may be wrong", r.running,
                 r.check);
  }
  store_report(r);
}

}  // namespace imgsearchd
